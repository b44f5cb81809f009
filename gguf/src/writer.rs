//! Writing GGUF v3 files.

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use crate::error::GgufError;
use crate::reader::DEFAULT_ALIGNMENT;
use crate::types::{tensor_size, GgmlType, MetadataArray, MetadataValue, ValueType};

/// Builds a GGUF version 3 file: metadata in insertion order, then tensors laid out in
/// insertion order, each aligned to the file's alignment.
///
/// ```
/// use trellis_gguf::{GgufFile, GgufWriter, MetadataValue};
/// let mut w = GgufWriter::new();
/// w.set_metadata("general.architecture", "demo")?;
/// w.set_metadata("demo.block_count", 2u32)?;
/// w.set_metadata("demo.names", MetadataValue::string_array(["a", "b"]))?;
/// w.add_tensor_f32("weight", &[3, 2], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0])?;
/// let bytes = w.to_bytes()?;
///
/// let gguf = GgufFile::read(std::io::Cursor::new(&bytes), bytes.len() as u64)?;
/// assert_eq!(gguf.get_u32("demo.block_count"), Some(2));
/// let t = gguf.tensor("weight").unwrap();
/// assert_eq!(t.dims, vec![3, 2]);
/// let values = gguf.tensor_f32(&mut std::io::Cursor::new(&bytes), t)?;
/// assert_eq!(values[5], 6.0);
/// # Ok::<(), trellis_gguf::GgufError>(())
/// ```
#[derive(Debug, Clone)]
pub struct GgufWriter {
    metadata: Vec<(String, MetadataValue)>,
    tensors: Vec<PendingTensor>,
    alignment: u64,
}

#[derive(Debug, Clone)]
struct PendingTensor {
    name: String,
    dims: Vec<u64>,
    ggml_type: GgmlType,
    data: Vec<u8>,
}

impl Default for GgufWriter {
    fn default() -> Self {
        GgufWriter::new()
    }
}

fn check_value(key: &str, value: &MetadataValue) -> Result<(), GgufError> {
    if let MetadataValue::Array(MetadataArray { item_type, items }) = value {
        for item in items {
            if item.value_type() != *item_type {
                return Err(GgufError::InvalidInput {
                    reason: format!(
                        "array {key:?} declares {item_type:?} elements but holds a {:?}",
                        item.value_type()
                    ),
                });
            }
            check_value(key, item)?;
        }
    }
    Ok(())
}

impl GgufWriter {
    /// An empty writer (alignment 32).
    pub fn new() -> GgufWriter {
        GgufWriter {
            metadata: Vec::new(),
            tensors: Vec::new(),
            alignment: DEFAULT_ALIGNMENT,
        }
    }

    /// Sets the data alignment (a power of two) and records it as `general.alignment`.
    pub fn set_alignment(&mut self, alignment: u32) -> Result<(), GgufError> {
        if alignment == 0 || !alignment.is_power_of_two() {
            return Err(GgufError::InvalidAlignment {
                reason: format!("{alignment} is not a power of two"),
            });
        }
        self.alignment = u64::from(alignment);
        self.set_metadata("general.alignment", alignment)
    }

    /// Sets metadata `key` to `value`: replaces an existing value in place, otherwise
    /// appends. Arrays must hold elements of their declared type only.
    pub fn set_metadata(
        &mut self,
        key: &str,
        value: impl Into<MetadataValue>,
    ) -> Result<(), GgufError> {
        let value = value.into();
        check_value(key, &value)?;
        if key == "general.alignment" {
            let a = value
                .as_u64()
                .filter(|a| *a != 0 && a.is_power_of_two() && *a <= u64::from(u32::MAX))
                .ok_or_else(|| GgufError::InvalidAlignment {
                    reason: format!("{value:?} is not a power-of-two integer"),
                })?;
            self.alignment = a;
        }
        match self.metadata.iter_mut().find(|(k, _)| k == key) {
            Some((_, v)) => *v = value,
            None => self.metadata.push((key.to_owned(), value)),
        }
        Ok(())
    }

    /// The metadata set so far, in order.
    pub fn metadata(&self) -> &[(String, MetadataValue)] {
        &self.metadata
    }

    /// Adds a tensor from raw bytes already encoded as `ggml_type`.
    ///
    /// `dims` are in ggml order (`dims[0]` varies fastest). The byte length must match the
    /// shape and type exactly.
    pub fn add_tensor_raw(
        &mut self,
        name: &str,
        dims: &[u64],
        ggml_type: GgmlType,
        data: Vec<u8>,
    ) -> Result<(), GgufError> {
        let size =
            tensor_size(ggml_type, dims).map_err(|reason| GgufError::InvalidTensorShape {
                tensor: name.to_owned(),
                dims: dims.to_vec(),
                reason,
            })?;
        if size != data.len() as u64 {
            return Err(GgufError::InvalidInput {
                reason: format!(
                    "tensor {name:?} of shape {dims:?} and type {ggml_type} needs {size} bytes, got {}",
                    data.len()
                ),
            });
        }
        if self.tensors.iter().any(|t| t.name == name) {
            return Err(GgufError::DuplicateTensor {
                tensor: name.to_owned(),
            });
        }
        self.tensors.push(PendingTensor {
            name: name.to_owned(),
            dims: dims.to_vec(),
            ggml_type,
            data,
        });
        Ok(())
    }

    /// Adds an F32 tensor. `values.len()` must equal the product of `dims`.
    pub fn add_tensor_f32(
        &mut self,
        name: &str,
        dims: &[u64],
        values: &[f32],
    ) -> Result<(), GgufError> {
        let data = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.add_tensor_raw(name, dims, GgmlType::F32, data)
    }

    /// Adds an F16 tensor, converting `values` (round to nearest even).
    pub fn add_tensor_f16(
        &mut self,
        name: &str,
        dims: &[u64],
        values: &[f32],
    ) -> Result<(), GgufError> {
        let data = values
            .iter()
            .flat_map(|v| crate::half::f32_to_f16(*v).to_le_bytes())
            .collect();
        self.add_tensor_raw(name, dims, GgmlType::F16, data)
    }

    /// Writes the file to `out`.
    pub fn write_to(&self, mut out: impl Write) -> Result<(), GgufError> {
        let mut keys = HashSet::new();
        for (k, _) in &self.metadata {
            if !keys.insert(k.as_str()) {
                return Err(GgufError::InvalidInput {
                    reason: format!("duplicate metadata key {k:?}"),
                });
            }
        }
        // The header (everything before the data section) is assembled in memory.
        let mut head = Vec::new();
        head.extend_from_slice(b"GGUF");
        head.extend_from_slice(&3u32.to_le_bytes());
        head.extend_from_slice(&(self.tensors.len() as u64).to_le_bytes());
        head.extend_from_slice(&(self.metadata.len() as u64).to_le_bytes());
        for (k, v) in &self.metadata {
            write_string(&mut head, k);
            head.extend_from_slice(&(v.value_type() as u32).to_le_bytes());
            write_value(&mut head, v);
        }
        let align = |n: u64| n.div_ceil(self.alignment) * self.alignment;
        let mut offset = 0u64;
        for t in &self.tensors {
            write_string(&mut head, &t.name);
            head.extend_from_slice(&(t.dims.len() as u32).to_le_bytes());
            for d in &t.dims {
                head.extend_from_slice(&d.to_le_bytes());
            }
            head.extend_from_slice(&t.ggml_type.id().to_le_bytes());
            head.extend_from_slice(&offset.to_le_bytes());
            offset = align(offset + t.data.len() as u64);
        }
        let zeros = vec![0u8; self.alignment as usize];
        let head_len = head.len() as u64;
        out.write_all(&head)?;
        out.write_all(&zeros[..(align(head_len) - head_len) as usize])?;
        for (i, t) in self.tensors.iter().enumerate() {
            out.write_all(&t.data)?;
            let len = t.data.len() as u64;
            if i + 1 < self.tensors.len() {
                out.write_all(&zeros[..(align(len) - len) as usize])?;
            }
        }
        out.flush()?;
        Ok(())
    }

    /// The file as bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, GgufError> {
        let mut v = Vec::new();
        self.write_to(&mut v)?;
        Ok(v)
    }

    /// Writes the file to `path` (created or truncated).
    pub fn write_file(&self, path: impl AsRef<Path>) -> Result<(), GgufError> {
        let file = File::create(path)?;
        self.write_to(BufWriter::new(file))
    }
}

fn write_string(buf: &mut Vec<u8>, s: &str) {
    buf.extend_from_slice(&(s.len() as u64).to_le_bytes());
    buf.extend_from_slice(s.as_bytes());
}

fn write_value(buf: &mut Vec<u8>, v: &MetadataValue) {
    match v {
        MetadataValue::U8(x) => buf.push(*x),
        MetadataValue::I8(x) => buf.extend_from_slice(&x.to_le_bytes()),
        MetadataValue::U16(x) => buf.extend_from_slice(&x.to_le_bytes()),
        MetadataValue::I16(x) => buf.extend_from_slice(&x.to_le_bytes()),
        MetadataValue::U32(x) => buf.extend_from_slice(&x.to_le_bytes()),
        MetadataValue::I32(x) => buf.extend_from_slice(&x.to_le_bytes()),
        MetadataValue::F32(x) => buf.extend_from_slice(&x.to_le_bytes()),
        MetadataValue::Bool(x) => buf.push(u8::from(*x)),
        MetadataValue::String(s) => write_string(buf, s),
        MetadataValue::U64(x) => buf.extend_from_slice(&x.to_le_bytes()),
        MetadataValue::I64(x) => buf.extend_from_slice(&x.to_le_bytes()),
        MetadataValue::F64(x) => buf.extend_from_slice(&x.to_le_bytes()),
        MetadataValue::Array(a) => {
            buf.extend_from_slice(&(a.item_type as u32).to_le_bytes());
            buf.extend_from_slice(&(a.items.len() as u64).to_le_bytes());
            for item in &a.items {
                write_value(buf, item);
            }
        }
    }
}

impl MetadataValue {
    /// An array value of `item_type` (checked when written).
    pub fn array(item_type: ValueType, items: Vec<MetadataValue>) -> MetadataValue {
        MetadataValue::Array(MetadataArray { item_type, items })
    }

    /// An array of strings.
    pub fn string_array<S: Into<String>>(items: impl IntoIterator<Item = S>) -> MetadataValue {
        MetadataValue::array(
            ValueType::String,
            items
                .into_iter()
                .map(|s| MetadataValue::String(s.into()))
                .collect(),
        )
    }
}
