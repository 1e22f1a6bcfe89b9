//! A V4L2 camera on Linux, through the pure-Rust `linuxvideo` crate (no C bindings to generate, so the
//! build needs no libclang). The device is opened and streaming starts in [`V4l2Source::open`]; dropping
//! the source stops streaming and closes the device. Frames are converted to RGB in memory: YUYV, MJPEG
//! and RGB24 are understood, which covers ordinary USB (UVC) cameras.

use std::path::Path;

use image::RgbImage;
use linuxvideo::Device;
use linuxvideo::format::{PixFormat, PixelFormat};
use linuxvideo::stream::ReadStream;

use super::FrameSource;
use crate::FaceError;

/// The size asked of the camera; the driver may choose another, which is used as it is.
const WIDTH: u32 = 640;
const HEIGHT: u32 = 480;

pub struct V4l2Source {
    stream: ReadStream,
    width: u32,
    height: u32,
    bytes_per_line: u32,
    format: PixelFormat,
}

fn camera_error(device: &Path, e: impl std::fmt::Display) -> FaceError {
    FaceError::Camera(format!("{}: {e}", device.display()))
}

impl V4l2Source {
    pub fn open(device: &Path) -> Result<Self, FaceError> {
        let dev = Device::open(device).map_err(|e| camera_error(device, e))?;
        let capture = dev
            .video_capture(PixFormat::new(WIDTH, HEIGHT, PixelFormat::YUYV))
            .map_err(|e| camera_error(device, e))?;
        let chosen = capture.format();
        let (width, height, bytes_per_line, format) = (
            chosen.width(),
            chosen.height(),
            chosen.bytes_per_line(),
            chosen.pixel_format(),
        );
        if ![PixelFormat::YUYV, PixelFormat::MJPG, PixelFormat::RGB3].contains(&format) {
            return Err(camera_error(
                device,
                format!("the camera offers pixel format {format:?}, not YUYV, MJPEG or RGB24"),
            ));
        }
        let stream = capture.into_stream().map_err(|e| camera_error(device, e))?;
        Ok(Self {
            stream,
            width,
            height,
            bytes_per_line,
            format,
        })
    }
}

impl FrameSource for V4l2Source {
    fn next_frame(&mut self) -> Result<Option<RgbImage>, FaceError> {
        let (w, h, stride, format) = (self.width, self.height, self.bytes_per_line, self.format);
        let frame = self
            .stream
            .dequeue(|buf| {
                Ok(match format {
                    f if f == PixelFormat::YUYV => yuyv_to_rgb(&buf, w, h, stride),
                    f if f == PixelFormat::RGB3 => rgb24(&buf, w, h, stride),
                    _ => crate::picture::decode(&buf),
                })
            })
            .map_err(|e| FaceError::Camera(format!("no frame: {e}")))??;
        Ok(Some(frame))
    }
}

/// YUYV 4:2:2 (Y0 U Y1 V for two pixels) to RGB, BT.601 limited range.
pub(crate) fn yuyv_to_rgb(
    data: &[u8],
    width: u32,
    height: u32,
    stride: u32,
) -> Result<RgbImage, FaceError> {
    let stride = (stride.max(width * 2)) as usize;
    if data.len() < stride * height as usize {
        return Err(FaceError::Camera("a short YUYV frame".into()));
    }
    let mut out = RgbImage::new(width, height);
    for y in 0..height as usize {
        let row = &data[y * stride..y * stride + width as usize * 2];
        for (pair, px) in row.chunks_exact(4).enumerate() {
            let (u, v) = (f32::from(px[1]) - 128.0, f32::from(px[3]) - 128.0);
            for (k, luma) in [px[0], px[2]].into_iter().enumerate() {
                let c = 1.164 * (f32::from(luma) - 16.0);
                let rgb = [c + 1.596 * v, c - 0.392 * u - 0.813 * v, c + 2.017 * u]
                    .map(|x| x.round().clamp(0.0, 255.0) as u8);
                out.put_pixel((pair * 2 + k) as u32, y as u32, image::Rgb(rgb));
            }
        }
    }
    Ok(out)
}

fn rgb24(data: &[u8], width: u32, height: u32, stride: u32) -> Result<RgbImage, FaceError> {
    let stride = (stride.max(width * 3)) as usize;
    if data.len() < stride * height as usize {
        return Err(FaceError::Camera("a short RGB frame".into()));
    }
    let mut pixels = Vec::with_capacity((width * height * 3) as usize);
    for y in 0..height as usize {
        pixels.extend_from_slice(&data[y * stride..y * stride + width as usize * 3]);
    }
    RgbImage::from_raw(width, height, pixels)
        .ok_or_else(|| FaceError::Camera("bad RGB frame".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yuyv_grey_white_and_red() {
        // Two pixels per 4 bytes: black/white (no colour), then a saturated red pair.
        let frame = [16u8, 128, 235, 128, 81, 90, 81, 240];
        let img = yuyv_to_rgb(&frame, 4, 1, 8).unwrap();
        assert_eq!(img.get_pixel(0, 0).0, [0, 0, 0]);
        assert_eq!(img.get_pixel(1, 0).0, [255, 255, 255]);
        let red = img.get_pixel(2, 0).0;
        assert!(red[0] > 230 && red[1] < 30 && red[2] < 30, "{red:?}");
        assert!(yuyv_to_rgb(&frame[..6], 4, 1, 8).is_err());
    }

    #[test]
    fn missing_device_is_a_camera_error() {
        assert!(matches!(
            V4l2Source::open(Path::new("/dev/no-such-video")),
            Err(FaceError::Camera(_))
        ));
    }
}
