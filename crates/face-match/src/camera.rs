//! Camera input behind [`FrameSource`]: a real camera, or a file / folder of pictures for tests and the
//! demo.
//!
//! A source is opened when a face check starts and dropped when it ends, so the camera is closed whenever
//! no face check runs. Frames stay in memory.

use std::path::{Path, PathBuf};

use image::RgbImage;

use crate::FaceError;

/// Something that gives camera frames.
pub trait FrameSource: Send {
    /// The next frame, or `None` when the source has no more (a file source that was read once).
    fn next_frame(&mut self) -> Result<Option<RgbImage>, FaceError>;
}

/// Which frame source to open, as written in the configuration: `folder:PATH`, `file:PATH` or
/// `v4l2:/dev/videoN`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CameraSpec {
    /// Every JPEG / PNG / JPEG 2000 file of a folder, in name order, over and over.
    Folder(PathBuf),
    /// One picture, given as often as asked.
    File(PathBuf),
    /// A V4L2 camera (Linux).
    V4l2(PathBuf),
}

impl std::str::FromStr for CameraSpec {
    type Err = FaceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            FaceError::Camera(format!(
                "`{s}` is not a camera: use folder:PATH, file:PATH or v4l2:/dev/videoN"
            ))
        };
        let (kind, path) = s.split_once(':').ok_or_else(bad)?;
        if path.is_empty() {
            return Err(bad());
        }
        match kind {
            "folder" => Ok(Self::Folder(path.into())),
            "file" => Ok(Self::File(path.into())),
            "v4l2" => Ok(Self::V4l2(path.into())),
            _ => Err(bad()),
        }
    }
}

impl CameraSpec {
    /// Opens the source (for a camera: opens the device and starts streaming).
    pub fn open(&self) -> Result<Box<dyn FrameSource>, FaceError> {
        match self {
            Self::Folder(dir) => Ok(Box::new(FolderSource::open(dir)?)),
            Self::File(file) => Ok(Box::new(FolderSource::single(file))),
            Self::V4l2(device) => open_v4l2(device),
        }
    }
}

#[cfg(target_os = "linux")]
fn open_v4l2(device: &Path) -> Result<Box<dyn FrameSource>, FaceError> {
    Ok(Box::new(crate::camera::v4l2::V4l2Source::open(device)?))
}

#[cfg(not(target_os = "linux"))]
fn open_v4l2(device: &Path) -> Result<Box<dyn FrameSource>, FaceError> {
    Err(FaceError::Camera(format!(
        "V4L2 cameras exist on Linux only ({})",
        device.display()
    )))
}

#[cfg(target_os = "linux")]
mod v4l2;

/// Pictures from disk: each call reads and decodes the next file (nothing is kept between frames).
pub struct FolderSource {
    files: Vec<PathBuf>,
    next: usize,
}

impl FolderSource {
    /// Every picture in `dir` (by extension: jpg, jpeg, png, jp2, j2k), in name order.
    pub fn open(dir: &Path) -> Result<Self, FaceError> {
        let rd = std::fs::read_dir(dir)
            .map_err(|e| FaceError::Camera(format!("cannot read {}: {e}", dir.display())))?;
        let mut files: Vec<PathBuf> = rd
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.extension().and_then(|e| e.to_str()).is_some_and(|e| {
                    matches!(
                        e.to_ascii_lowercase().as_str(),
                        "jpg" | "jpeg" | "png" | "jp2" | "j2k"
                    )
                })
            })
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(FaceError::Camera(format!(
                "no pictures in {}",
                dir.display()
            )));
        }
        Ok(Self { files, next: 0 })
    }

    /// One file, given again on every call.
    pub fn single(file: &Path) -> Self {
        Self {
            files: vec![file.to_owned()],
            next: 0,
        }
    }
}

impl FrameSource for FolderSource {
    fn next_frame(&mut self) -> Result<Option<RgbImage>, FaceError> {
        let Some(path) = self.files.get(self.next % self.files.len().max(1)) else {
            return Ok(None);
        };
        self.next += 1;
        let bytes = std::fs::read(path)
            .map_err(|e| FaceError::Camera(format!("cannot read {}: {e}", path.display())))?;
        crate::picture::decode(&bytes).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse() {
        assert_eq!(
            "folder:/tmp/frames".parse::<CameraSpec>().unwrap(),
            CameraSpec::Folder("/tmp/frames".into())
        );
        assert_eq!(
            "v4l2:/dev/video0".parse::<CameraSpec>().unwrap(),
            CameraSpec::V4l2("/dev/video0".into())
        );
        for bad in ["", "folder:", "usb:/dev/x", "/dev/video0"] {
            assert!(bad.parse::<CameraSpec>().is_err(), "{bad}");
        }
    }

    #[test]
    fn folder_source_cycles_through_pictures_in_name_order() {
        let dir = tempfile::tempdir().unwrap();
        for (name, shade) in [("b.png", 200u8), ("a.png", 10)] {
            RgbImage::from_pixel(4, 3, image::Rgb([shade; 3]))
                .save(dir.path().join(name))
                .unwrap();
        }
        std::fs::write(dir.path().join("notes.txt"), "not a picture").unwrap();
        let mut src = CameraSpec::Folder(dir.path().into()).open().unwrap();
        let shades: Vec<u8> = (0..3)
            .map(|_| src.next_frame().unwrap().unwrap().get_pixel(0, 0).0[0])
            .collect();
        assert_eq!(shades, vec![10, 200, 10]);
        assert!(
            CameraSpec::Folder(dir.path().join("missing"))
                .open()
                .is_err()
        );
    }
}
