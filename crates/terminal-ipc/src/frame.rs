//! Length-prefixed frames: a big-endian `u32` byte count, then that many bytes of UTF-8 JSON.
//!
//! The length is checked against a maximum before any allocation, so a peer cannot make us reserve memory by
//! announcing a huge frame.

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Largest frame either side accepts, in bytes of JSON. Check-in records and lists of today's check-ins fit
/// comfortably; medical-information pages are fetched in pages below this size.
pub const MAX_FRAME_LEN: usize = 4 * 1024 * 1024;

/// What can go wrong with one frame.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("the peer closed the connection")]
    Closed,
    #[error("a frame of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge { len: usize, max: usize },
    #[error("the socket failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("the frame is not a valid message: {0}")]
    Malformed(String),
}

/// Reads one frame's bytes; `Closed` when the peer hung up cleanly between frames.
pub async fn read_frame_bytes<R: AsyncRead + Unpin>(
    reader: &mut R,
    max: usize,
) -> Result<Vec<u8>, FrameError> {
    let mut len_bytes = [0u8; 4];
    match reader.read_exact(&mut len_bytes).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Err(FrameError::Closed),
        Err(e) => return Err(FrameError::Io(e)),
    }
    let len = u32::from_be_bytes(len_bytes) as usize;
    if len > max {
        return Err(FrameError::TooLarge { len, max });
    }
    let mut body = vec![0u8; len];
    reader.read_exact(&mut body).await?;
    Ok(body)
}

/// Reads one frame and decodes it as `T`.
pub async fn read_frame<R: AsyncRead + Unpin, T: DeserializeOwned>(
    reader: &mut R,
    max: usize,
) -> Result<T, FrameError> {
    let body = read_frame_bytes(reader, max).await?;
    decode(&body)
}

/// Decodes a frame body; never panics on any input.
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, FrameError> {
    serde_json::from_slice(body).map_err(|e| FrameError::Malformed(e.to_string()))
}

/// Encodes `message` as a complete frame (length prefix included).
pub fn encode<T: Serialize>(message: &T, max: usize) -> Result<Vec<u8>, FrameError> {
    let json = serde_json::to_vec(message).map_err(|e| FrameError::Malformed(e.to_string()))?;
    if json.len() > max {
        return Err(FrameError::TooLarge {
            len: json.len(),
            max,
        });
    }
    let len = u32::try_from(json.len()).map_err(|_| FrameError::TooLarge {
        len: json.len(),
        max,
    })?;
    let mut frame = Vec::with_capacity(4 + json.len());
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(&json);
    Ok(frame)
}

/// Encodes and writes one frame, then flushes.
pub async fn write_frame<W: AsyncWrite + Unpin, T: Serialize>(
    writer: &mut W,
    message: &T,
    max: usize,
) -> Result<(), FrameError> {
    let frame = encode(message, max)?;
    writer.write_all(&frame).await?;
    writer.flush().await?;
    Ok(())
}
