//! A V4L2 camera on Linux (placeholder until the capture crate is wired in).

use std::path::Path;

use image::RgbImage;

use super::FrameSource;
use crate::FaceError;

pub struct V4l2Source;

impl V4l2Source {
    pub fn open(device: &Path) -> Result<Self, FaceError> {
        Err(FaceError::Camera(format!(
            "V4L2 capture is not built yet ({})",
            device.display()
        )))
    }
}

impl FrameSource for V4l2Source {
    fn next_frame(&mut self) -> Result<Option<RgbImage>, FaceError> {
        Ok(None)
    }
}
