//! Parsing GGUF files.

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use crate::error::GgufError;
use crate::types::{tensor_size, GgmlType, MetadataArray, MetadataValue, TensorInfo, ValueType};

/// Default data alignment when `general.alignment` is absent.
pub const DEFAULT_ALIGNMENT: u64 = 32;
/// Deepest array nesting accepted (arrays of arrays of ...).
pub const MAX_ARRAY_DEPTH: u32 = 8;
/// Largest number of dimensions a tensor may have.
pub const MAX_DIMS: u32 = 4;

/// A parsed GGUF file header: version, metadata, tensor infos and data layout.
///
/// The tensor data itself is not loaded; read it with [`GgufFile::tensor_data`].
#[derive(Debug, Clone)]
pub struct GgufFile {
    version: u32,
    metadata: Vec<(String, MetadataValue)>,
    tensors: Vec<TensorInfo>,
    alignment: u64,
    data_offset: u64,
    file_len: u64,
}

/// A reader that tracks its position and refuses to read past `file_len`.
struct Input<R> {
    inner: R,
    pos: u64,
    file_len: u64,
}

impl<R: Read> Input<R> {
    fn remaining(&self) -> u64 {
        self.file_len.saturating_sub(self.pos)
    }

    fn truncated(&self, what: impl FnOnce() -> String) -> GgufError {
        GgufError::Truncated {
            what: what(),
            offset: self.pos,
            file_len: self.file_len,
        }
    }

    fn bytes<const N: usize>(&mut self, what: &dyn Fn() -> String) -> Result<[u8; N], GgufError> {
        if self.remaining() < N as u64 {
            return Err(self.truncated(what));
        }
        let mut buf = [0u8; N];
        match self.inner.read_exact(&mut buf) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                return Err(self.truncated(what))
            }
            Err(e) => return Err(e.into()),
        }
        self.pos += N as u64;
        Ok(buf)
    }

    fn u32(&mut self, what: &dyn Fn() -> String) -> Result<u32, GgufError> {
        self.bytes::<4>(what).map(u32::from_le_bytes)
    }

    fn u64(&mut self, what: &dyn Fn() -> String) -> Result<u64, GgufError> {
        self.bytes::<8>(what).map(u64::from_le_bytes)
    }

    /// Reads a length-prefixed UTF-8 string; the length is capped by the remaining bytes.
    fn string(
        &mut self,
        what: &dyn Fn() -> String,
        utf8_key: &dyn Fn() -> String,
    ) -> Result<String, GgufError> {
        let len = self.u64(what)?;
        if len > self.remaining() {
            return Err(self.truncated(what));
        }
        let start = self.pos;
        // `len` is bounded by the file length, which the caller vouched for.
        let mut buf = Vec::with_capacity(len.min(1 << 20) as usize);
        let got = (&mut self.inner).take(len).read_to_end(&mut buf)?;
        if (got as u64) < len {
            return Err(self.truncated(what));
        }
        self.pos += len;
        String::from_utf8(buf).map_err(|_| GgufError::InvalidUtf8 {
            key: utf8_key(),
            offset: start,
        })
    }

    fn value(&mut self, ty: ValueType, key: &str, depth: u32) -> Result<MetadataValue, GgufError> {
        let what = || format!("value of metadata key {key:?}");
        Ok(match ty {
            ValueType::U8 => MetadataValue::U8(self.bytes::<1>(&what)?[0]),
            ValueType::I8 => MetadataValue::I8(self.bytes::<1>(&what)?[0] as i8),
            ValueType::U16 => MetadataValue::U16(u16::from_le_bytes(self.bytes(&what)?)),
            ValueType::I16 => MetadataValue::I16(i16::from_le_bytes(self.bytes(&what)?)),
            ValueType::U32 => MetadataValue::U32(u32::from_le_bytes(self.bytes(&what)?)),
            ValueType::I32 => MetadataValue::I32(i32::from_le_bytes(self.bytes(&what)?)),
            ValueType::F32 => MetadataValue::F32(f32::from_le_bytes(self.bytes(&what)?)),
            ValueType::U64 => MetadataValue::U64(u64::from_le_bytes(self.bytes(&what)?)),
            ValueType::I64 => MetadataValue::I64(i64::from_le_bytes(self.bytes(&what)?)),
            ValueType::F64 => MetadataValue::F64(f64::from_le_bytes(self.bytes(&what)?)),
            ValueType::Bool => {
                let offset = self.pos;
                match self.bytes::<1>(&what)?[0] {
                    0 => MetadataValue::Bool(false),
                    1 => MetadataValue::Bool(true),
                    value => {
                        return Err(GgufError::InvalidBool {
                            key: key.to_owned(),
                            value,
                            offset,
                        })
                    }
                }
            }
            ValueType::String => MetadataValue::String(self.string(&what, &|| format!("{key:?}"))?),
            ValueType::Array => {
                if depth >= MAX_ARRAY_DEPTH {
                    return Err(GgufError::TooLarge {
                        what: format!("array nesting depth of {key:?}"),
                        value: u64::from(depth) + 1,
                        limit: u64::from(MAX_ARRAY_DEPTH),
                    });
                }
                let tag_offset = self.pos;
                let tag = self.u32(&|| format!("array element type of {key:?}"))?;
                let item_type =
                    ValueType::from_u32(tag).ok_or_else(|| GgufError::InvalidValueType {
                        key: key.to_owned(),
                        value_type: tag,
                        offset: tag_offset,
                    })?;
                let count = self.u64(&|| format!("array length of {key:?}"))?;
                if count > self.remaining() / item_type.min_size() {
                    // Even at the smallest encoding the elements cannot fit in the file.
                    return Err(self.truncated(|| {
                        format!("array of {count} {item_type:?} values of {key:?}")
                    }));
                }
                let mut items = Vec::with_capacity(count.min(1 << 16) as usize);
                for _ in 0..count {
                    items.push(self.value(item_type, key, depth + 1)?);
                }
                MetadataValue::Array(MetadataArray { item_type, items })
            }
        })
    }
}

/// Checks that every tensor's data lies inside the file.
///
/// Walking the tensors in offset order, the first one that does not fit is reported as
/// [`GgufError::Truncated`] when the end of the file cuts through it or it starts right where
/// the previous tensor's (aligned) data ends, i.e. the file was cut short; and as
/// [`GgufError::TensorOutOfBounds`] when its offset jumps past the end of the file.
fn check_bounds(
    tensors: &[TensorInfo],
    data_offset: u64,
    alignment: u64,
    file_len: u64,
) -> Result<(), GgufError> {
    let mut order: Vec<&TensorInfo> = tensors.iter().collect();
    order.sort_by_key(|t| t.offset);
    let mut packed_end = data_offset;
    for t in order {
        let start = data_offset.checked_add(t.offset);
        let end = start.and_then(|s| s.checked_add(t.size));
        match (start, end) {
            (Some(_), Some(end)) if end <= file_len => {
                packed_end = packed_end.max(end.div_ceil(alignment).saturating_mul(alignment));
            }
            (Some(start), Some(end)) if start < file_len || start <= packed_end => {
                return Err(GgufError::Truncated {
                    what: format!(
                        "tensor data of {:?} ({} bytes, ends at byte {end})",
                        t.name, t.size
                    ),
                    offset: start,
                    file_len,
                });
            }
            _ => {
                return Err(GgufError::TensorOutOfBounds {
                    tensor: t.name.clone(),
                    end: end.unwrap_or(u64::MAX),
                    file_len,
                })
            }
        }
    }
    Ok(())
}

impl GgufFile {
    /// Opens and parses the GGUF file at `path` (header only; tensor data stays on disk).
    ///
    /// ```no_run
    /// let gguf = trellis_gguf::GgufFile::open("model.gguf")?;
    /// println!("{:?} with {} tensors", gguf.architecture(), gguf.tensors().len());
    /// # Ok::<(), trellis_gguf::GgufError>(())
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<GgufFile, GgufError> {
        let file = File::open(path)?;
        let file_len = file.metadata()?.len();
        GgufFile::read(BufReader::with_capacity(1 << 16, file), file_len)
    }

    /// Parses a GGUF file from `reader`, positioned at the file's first byte, whose total
    /// length is `file_len` bytes.
    ///
    /// All counts and lengths in the header are checked against `file_len` before anything
    /// is allocated, and every tensor's data must lie inside the file.
    ///
    /// ```
    /// use trellis_gguf::{GgufFile, GgufWriter};
    /// let mut w = GgufWriter::new();
    /// w.set_metadata("general.architecture", "demo")?;
    /// let bytes = w.to_bytes()?;
    /// let gguf = GgufFile::read(std::io::Cursor::new(&bytes), bytes.len() as u64)?;
    /// assert_eq!(gguf.architecture(), Some("demo"));
    /// # Ok::<(), trellis_gguf::GgufError>(())
    /// ```
    pub fn read(reader: impl Read, file_len: u64) -> Result<GgufFile, GgufError> {
        let mut input = Input {
            inner: reader,
            pos: 0,
            file_len,
        };

        // Magic: report whatever is there, even fewer than four bytes.
        let mut magic = Vec::with_capacity(4);
        (&mut input.inner)
            .take(4.min(file_len))
            .read_to_end(&mut magic)?;
        input.pos = magic.len() as u64;
        if magic != b"GGUF" {
            return Err(GgufError::NotGguf { found_magic: magic });
        }
        let version = input.u32(&|| "version".into())?;
        if version != 2 && version != 3 {
            return Err(GgufError::UnsupportedVersion { version });
        }
        let tensor_count = input.u64(&|| "tensor count".into())?;
        let kv_count = input.u64(&|| "metadata count".into())?;

        // Each key/value needs at least 8 (key length) + 4 (type) + 1 bytes.
        if kv_count > input.remaining() / 13 {
            return Err(input.truncated(|| format!("{kv_count} metadata key/values")));
        }
        let mut metadata = Vec::with_capacity(kv_count.min(1 << 12) as usize);
        for i in 0..kv_count {
            let key = input.string(&|| format!("metadata key #{i}"), &|| {
                format!("metadata key #{i}")
            })?;
            let tag_offset = input.pos;
            let tag = input.u32(&|| format!("value type of metadata key {key:?}"))?;
            let ty = ValueType::from_u32(tag).ok_or_else(|| GgufError::InvalidValueType {
                key: key.clone(),
                value_type: tag,
                offset: tag_offset,
            })?;
            let value = input.value(ty, &key, 0)?;
            metadata.push((key, value));
        }

        let alignment = match metadata.iter().find(|(k, _)| k == "general.alignment") {
            None => DEFAULT_ALIGNMENT,
            Some((_, v)) => {
                let a = v.as_u64().ok_or_else(|| GgufError::InvalidAlignment {
                    reason: format!("expected a non-negative integer, found {v:?}"),
                })?;
                if a == 0 || !a.is_power_of_two() {
                    return Err(GgufError::InvalidAlignment {
                        reason: format!("{a} is not a power of two"),
                    });
                }
                a
            }
        };

        // Each tensor info needs at least 8 (name len) + 4 (n_dims) + 8 (dim) + 4 + 8 bytes.
        if tensor_count > input.remaining() / 32 {
            return Err(input.truncated(|| format!("{tensor_count} tensor infos")));
        }
        let mut tensors = Vec::with_capacity(tensor_count.min(1 << 14) as usize);
        let mut names = HashSet::new();
        for i in 0..tensor_count {
            let name = input.string(&|| format!("name of tensor #{i}"), &|| {
                format!("name of tensor #{i}")
            })?;
            let n_dims = input.u32(&|| format!("dimension count of tensor {name:?}"))?;
            if n_dims == 0 || n_dims > MAX_DIMS {
                return Err(GgufError::InvalidTensorShape {
                    tensor: name,
                    dims: vec![],
                    reason: format!("{n_dims} dimensions (1 to {MAX_DIMS} allowed)"),
                });
            }
            let mut dims = Vec::with_capacity(n_dims as usize);
            for _ in 0..n_dims {
                dims.push(input.u64(&|| format!("dimensions of tensor {name:?}"))?);
            }
            let type_id = input.u32(&|| format!("type of tensor {name:?}"))?;
            let ggml_type =
                GgmlType::from_u32(type_id).ok_or_else(|| GgufError::UnknownTensorType {
                    tensor: name.clone(),
                    type_id,
                })?;
            let offset = input.u64(&|| format!("data offset of tensor {name:?}"))?;
            let size =
                tensor_size(ggml_type, &dims).map_err(|reason| GgufError::InvalidTensorShape {
                    tensor: name.clone(),
                    dims: dims.clone(),
                    reason,
                })?;
            if offset % alignment != 0 {
                return Err(GgufError::MisalignedTensor {
                    tensor: name,
                    offset,
                    alignment,
                });
            }
            if !names.insert(name.clone()) {
                return Err(GgufError::DuplicateTensor { tensor: name });
            }
            tensors.push(TensorInfo {
                name,
                dims,
                ggml_type,
                offset,
                size,
            });
        }

        let data_offset = input.pos.div_ceil(alignment) * alignment;
        check_bounds(&tensors, data_offset, alignment, file_len)?;

        Ok(GgufFile {
            version,
            metadata,
            tensors,
            alignment,
            data_offset,
            file_len,
        })
    }

    /// GGUF format version (2 or 3).
    pub fn version(&self) -> u32 {
        self.version
    }

    /// All metadata key/values, in file order.
    pub fn metadata(&self) -> &[(String, MetadataValue)] {
        &self.metadata
    }

    /// The value of metadata `key`, if present.
    pub fn get(&self, key: &str) -> Option<&MetadataValue> {
        self.metadata.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The string value of `key`, if present and a string.
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(MetadataValue::as_str)
    }

    /// The value of `key` as `u32`, if it is an integer of any type whose value fits.
    pub fn get_u32(&self, key: &str) -> Option<u32> {
        self.get(key).and_then(MetadataValue::as_u32)
    }

    /// The value of `key` as `u64`, if it is an integer of any type whose value fits.
    pub fn get_u64(&self, key: &str) -> Option<u64> {
        self.get(key).and_then(MetadataValue::as_u64)
    }

    /// The value of `key` as `f32`, if it is an `f32` or `f64`.
    pub fn get_f32(&self, key: &str) -> Option<f32> {
        self.get(key).and_then(MetadataValue::as_f32)
    }

    /// The value of `key` as `bool`, if it is a bool.
    pub fn get_bool(&self, key: &str) -> Option<bool> {
        self.get(key).and_then(MetadataValue::as_bool)
    }

    /// The value of `key` as an array, if it is one.
    pub fn get_array(&self, key: &str) -> Option<&MetadataArray> {
        self.get(key).and_then(MetadataValue::as_array)
    }

    /// `general.architecture`, e.g. `"gemma3"`.
    pub fn architecture(&self) -> Option<&str> {
        self.get_str("general.architecture")
    }

    /// All tensor infos, in file order.
    pub fn tensors(&self) -> &[TensorInfo] {
        &self.tensors
    }

    /// The tensor named `name`, if present.
    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.tensors.iter().find(|t| t.name == name)
    }

    /// Data alignment in bytes (`general.alignment`, default 32).
    pub fn alignment(&self) -> u64 {
        self.alignment
    }

    /// Absolute byte offset of the start of the tensor data section.
    pub fn data_offset(&self) -> u64 {
        self.data_offset
    }

    /// Length in bytes of the file this header was read from.
    pub fn file_len(&self) -> u64 {
        self.file_len
    }

    /// Reads the raw bytes of `tensor` from `reader` (the same file this header came from).
    pub fn tensor_data<R: Read + Seek>(
        &self,
        reader: &mut R,
        tensor: &TensorInfo,
    ) -> Result<Vec<u8>, GgufError> {
        let start = self.data_offset + tensor.offset;
        let end = start + tensor.size;
        if end > self.file_len {
            return Err(GgufError::TensorOutOfBounds {
                tensor: tensor.name.clone(),
                end,
                file_len: self.file_len,
            });
        }
        reader.seek(SeekFrom::Start(start))?;
        let mut buf = Vec::with_capacity(tensor.size.min(1 << 28) as usize);
        let got = reader.take(tensor.size).read_to_end(&mut buf)?;
        if (got as u64) < tensor.size {
            return Err(GgufError::Truncated {
                what: format!("tensor data of {:?}", tensor.name),
                offset: start,
                file_len: self.file_len,
            });
        }
        Ok(buf)
    }

    /// Reads `tensor` and decodes it to `f32` (F32, F16 and BF16 tensors only).
    pub fn tensor_f32<R: Read + Seek>(
        &self,
        reader: &mut R,
        tensor: &TensorInfo,
    ) -> Result<Vec<f32>, GgufError> {
        let decode: fn([u8; 2]) -> f32 = match tensor.ggml_type {
            GgmlType::F32 => {
                let raw = self.tensor_data(reader, tensor)?;
                return Ok(raw
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect());
            }
            GgmlType::F16 => |b| crate::half::f16_to_f32(u16::from_le_bytes(b)),
            GgmlType::BF16 => |b| f32::from_bits(u32::from(u16::from_le_bytes(b)) << 16),
            other => {
                return Err(GgufError::UnsupportedConversion {
                    tensor: tensor.name.clone(),
                    ggml_type: other.name().into(),
                })
            }
        };
        let raw = self.tensor_data(reader, tensor)?;
        Ok(raw.chunks_exact(2).map(|c| decode([c[0], c[1]])).collect())
    }
}
