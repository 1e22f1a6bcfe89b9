//! Decoding pictures from bytes: JPEG and PNG (camera frames, files), JPEG 2000 (the card photo).
//!
//! Everything is decoded in memory into an 8-bit RGB image; nothing is written anywhere.

use image::RgbImage;

use crate::FaceError;

/// The JP2 container's signature box, and the raw JPEG 2000 codestream's SOC + SIZ markers.
const JP2_MAGIC: &[u8] = &[0x00, 0x00, 0x00, 0x0C, 0x6A, 0x50, 0x20, 0x20];
const J2K_MAGIC: &[u8] = &[0xFF, 0x4F, 0xFF, 0x51];

/// Larger pictures are refused rather than decoded (a frame or a photo is far smaller).
const MAX_PIXELS: u64 = 40_000_000;

/// Decodes JPEG, PNG or JPEG 2000 bytes, telling them apart by their signature.
pub fn decode(bytes: &[u8]) -> Result<RgbImage, FaceError> {
    if bytes.starts_with(JP2_MAGIC) || bytes.starts_with(J2K_MAGIC) {
        return decode_jpeg2000(bytes);
    }
    let reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| FaceError::Unreadable(e.to_string()))?;
    if reader.format().is_none() {
        return Err(FaceError::Unreadable(
            "not a JPEG, PNG or JPEG 2000 picture".into(),
        ));
    }
    let (w, h) = reader
        .into_dimensions()
        .map_err(|e| FaceError::Unreadable(e.to_string()))?;
    if u64::from(w) * u64::from(h) > MAX_PIXELS {
        return Err(FaceError::Unreadable(format!(
            "the picture is too large ({w}×{h})"
        )));
    }
    let img = image::load_from_memory(bytes).map_err(|e| FaceError::Unreadable(e.to_string()))?;
    Ok(img.to_rgb8())
}

/// Decodes a JPEG 2000 picture (JP2 file or raw codestream) with the pure-Rust `hayro-jpeg2000`.
pub fn decode_jpeg2000(bytes: &[u8]) -> Result<RgbImage, FaceError> {
    use hayro_jpeg2000::{ColorSpace, DecodeSettings, Image};
    let bad = |e: &dyn std::fmt::Display| FaceError::Unreadable(format!("JPEG 2000: {e}"));
    let img = Image::new(bytes, &DecodeSettings::default()).map_err(|e| bad(&e))?;
    let (w, h) = (img.width(), img.height());
    if w == 0 || h == 0 || u64::from(w) * u64::from(h) > MAX_PIXELS {
        return Err(FaceError::Unreadable(format!(
            "JPEG 2000: unusable size {w}×{h}"
        )));
    }
    let channels = usize::from(img.color_space().num_channels()) + usize::from(img.has_alpha());
    let gray = matches!(img.color_space(), ColorSpace::Gray)
        || matches!(
            img.color_space(),
            ColorSpace::Icc {
                num_channels: 1,
                ..
            }
        );
    let rgb_like = matches!(img.color_space(), ColorSpace::RGB)
        || matches!(
            img.color_space(),
            ColorSpace::Icc {
                num_channels: 3,
                ..
            }
        );
    if !gray && !rgb_like {
        return Err(FaceError::Unreadable(format!(
            "JPEG 2000: colour space {:?} is not grey or RGB",
            img.color_space()
        )));
    }
    let data = img.decode().map_err(|e| bad(&e))?;
    let pixels = w as usize * h as usize;
    if data.len() < pixels * channels {
        return Err(FaceError::Unreadable("JPEG 2000: short pixel data".into()));
    }
    let mut out = Vec::with_capacity(pixels * 3);
    for px in data.chunks_exact(channels).take(pixels) {
        if gray {
            out.extend_from_slice(&[px[0], px[0], px[0]]);
        } else {
            out.extend_from_slice(&px[..3]);
        }
    }
    RgbImage::from_raw(w, h, out).ok_or_else(|| FaceError::Unreadable("JPEG 2000: bad size".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_unreadable_not_a_panic() {
        for bytes in [
            &b""[..],
            b"hello",
            &[0xFF, 0xD8, 0xFF, 0x00],
            JP2_MAGIC,
            J2K_MAGIC,
        ] {
            assert!(matches!(decode(bytes), Err(FaceError::Unreadable(_))));
        }
    }

    #[test]
    fn png_round_trip() {
        let img = RgbImage::from_pixel(7, 5, image::Rgb([10, 20, 30]));
        let mut png = Vec::new();
        img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        let back = decode(&png).unwrap();
        assert_eq!(back.dimensions(), (7, 5));
        assert_eq!(back.get_pixel(3, 3).0, [10, 20, 30]);
    }
}
