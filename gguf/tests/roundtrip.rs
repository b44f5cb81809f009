//! Writer/reader round trips and hostile-input tests on small generated files.

use std::io::Cursor;

use trellis_gguf::{GgmlType, GgufError, GgufFile, GgufWriter, MetadataValue, ValueType};

fn parse(bytes: &[u8]) -> Result<GgufFile, GgufError> {
    GgufFile::read(bytes, bytes.len() as u64)
}

fn all_types_writer(alignment: Option<u32>) -> GgufWriter {
    let mut w = GgufWriter::new();
    if let Some(a) = alignment {
        w.set_alignment(a).unwrap();
    }
    w.set_metadata("general.architecture", "test").unwrap();
    w.set_metadata("u8", 200u8).unwrap();
    w.set_metadata("i8", -100i8).unwrap();
    w.set_metadata("u16", 60_000u16).unwrap();
    w.set_metadata("i16", -30_000i16).unwrap();
    w.set_metadata("u32", 4_000_000_000u32).unwrap();
    w.set_metadata("i32", -2_000_000_000i32).unwrap();
    w.set_metadata("f32", 1.5f32).unwrap();
    w.set_metadata("bool", true).unwrap();
    w.set_metadata("string", "héllo ✓").unwrap();
    w.set_metadata("u64", u64::MAX).unwrap();
    w.set_metadata("i64", i64::MIN).unwrap();
    w.set_metadata("f64", -0.25f64).unwrap();
    w.set_metadata("strings", MetadataValue::string_array(["a", "", "ccc"]))
        .unwrap();
    w.set_metadata("empty", MetadataValue::array(ValueType::I32, vec![]))
        .unwrap();
    let nested = MetadataValue::array(
        ValueType::Array,
        vec![
            MetadataValue::array(ValueType::U8, vec![1u8.into(), 2u8.into()]),
            MetadataValue::array(ValueType::String, vec!["x".into()]),
        ],
    );
    w.set_metadata("nested", nested).unwrap();
    w.add_tensor_f32("a", &[3], &[1.0, -2.0, 3.5]).unwrap();
    w.add_tensor_f16("b", &[2, 3], &[0.5, 1.0, -1.5, 2.0, 65504.0, 0.0])
        .unwrap();
    w.add_tensor_f32("c", &[1, 1, 1, 5], &[9.0; 5]).unwrap();
    w
}

#[test]
fn all_value_types_and_tensors_round_trip() {
    for alignment in [None, Some(64), Some(1)] {
        let w = all_types_writer(alignment);
        let bytes = w.to_bytes().unwrap();
        let g = parse(&bytes).unwrap();
        assert_eq!(g.version(), 3);
        assert_eq!(g.metadata(), w.metadata(), "metadata and its order survive");
        let a = u64::from(alignment.unwrap_or(32));
        assert_eq!(g.alignment(), a);
        assert_eq!(g.data_offset() % a, 0);
        assert_eq!(g.get_u32("u8"), Some(200));
        assert_eq!(g.get_u32("i8"), None, "negative does not fit a u32");
        assert_eq!(g.get_u32("u64"), None, "u64::MAX does not fit a u32");
        assert_eq!(g.get_u64("u64"), Some(u64::MAX));
        assert_eq!(g.get_f32("f64"), Some(-0.25));
        assert_eq!(g.get_str("string"), Some("héllo ✓"));
        assert_eq!(g.get_bool("bool"), Some(true));
        assert_eq!(g.get_array("empty").unwrap().item_type, ValueType::I32);

        let names: Vec<&str> = g.tensors().iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        for t in g.tensors() {
            assert_eq!(t.offset % a, 0, "{} misaligned", t.name);
        }
        let b = g.tensor("b").unwrap();
        assert_eq!(
            (b.ggml_type, b.size, b.dims.clone()),
            (GgmlType::F16, 12, vec![2, 3])
        );
        let mut cur = Cursor::new(&bytes);
        assert_eq!(
            g.tensor_f32(&mut cur, g.tensor("a").unwrap()).unwrap(),
            [1.0, -2.0, 3.5]
        );
        assert_eq!(
            g.tensor_f32(&mut cur, b).unwrap(),
            [0.5, 1.0, -1.5, 2.0, 65504.0, 0.0]
        );
        assert_eq!(
            g.tensor_f32(&mut cur, g.tensor("c").unwrap()).unwrap(),
            [9.0; 5]
        );
        // The file ends exactly at the end of the last tensor.
        let c = g.tensor("c").unwrap();
        assert_eq!(g.data_offset() + c.offset + c.size, bytes.len() as u64);
    }
}

#[test]
fn writer_rejects_inconsistent_input() {
    let mut w = GgufWriter::new();
    let mixed = MetadataValue::array(ValueType::U8, vec![1u8.into(), 2u16.into()]);
    assert!(matches!(
        w.set_metadata("m", mixed),
        Err(GgufError::InvalidInput { .. })
    ));
    assert!(matches!(
        w.add_tensor_f32("t", &[4], &[1.0]),
        Err(GgufError::InvalidInput { .. })
    ));
    assert!(matches!(
        w.add_tensor_raw("q", &[33], GgmlType::Q8_0, vec![0; 34]),
        Err(GgufError::InvalidTensorShape { .. })
    ));
    w.add_tensor_f32("t", &[1], &[1.0]).unwrap();
    assert!(matches!(
        w.add_tensor_f32("t", &[1], &[1.0]),
        Err(GgufError::DuplicateTensor { .. })
    ));
    assert!(matches!(
        w.set_alignment(24),
        Err(GgufError::InvalidAlignment { .. })
    ));
    // Setting a key twice replaces it in place.
    w.set_metadata("k", 1u32).unwrap();
    w.set_metadata("j", 2u32).unwrap();
    w.set_metadata("k", 3u32).unwrap();
    let g = parse(&w.to_bytes().unwrap()).unwrap();
    assert_eq!(g.metadata()[0], ("k".to_string(), MetadataValue::U32(3)));
}

/// Byte offset of the first metadata value's type tag in a writer's output.
fn header_fields(bytes: &[u8]) -> (usize, usize) {
    let key_len = u64::from_le_bytes(bytes[24..32].try_into().unwrap()) as usize;
    (24, 32 + key_len)
}

#[test]
fn corrupted_header_fields_give_specific_errors() {
    let good = all_types_writer(None).to_bytes().unwrap();
    let set = |at: usize, field: &[u8]| {
        let mut b = good.clone();
        b[at..at + field.len()].copy_from_slice(field);
        parse(&b).unwrap_err()
    };
    assert!(matches!(
        set(4, &1u32.to_le_bytes()),
        GgufError::UnsupportedVersion { version: 1 }
    ));
    assert!(matches!(
        set(4, &3u32.to_be_bytes()),
        GgufError::UnsupportedVersion { .. }
    ));
    // Huge tensor and key/value counts: refused before any allocation.
    assert!(matches!(
        set(8, &u64::MAX.to_le_bytes()),
        GgufError::Truncated { .. }
    ));
    assert!(matches!(
        set(16, &(1u64 << 40).to_le_bytes()),
        GgufError::Truncated { .. }
    ));
    let (key_len_at, tag_at) = header_fields(&good);
    assert!(matches!(
        set(key_len_at, &u64::MAX.to_le_bytes()),
        GgufError::Truncated { .. }
    ));
    match set(tag_at, &99u32.to_le_bytes()) {
        GgufError::InvalidValueType {
            key,
            value_type: 99,
            ..
        } => {
            assert_eq!(key, "general.architecture")
        }
        other => panic!("{other:?}"),
    }
    // Invalid UTF-8 in the first key.
    match set(32, &[0xff]) {
        GgufError::InvalidUtf8 { offset: 32, .. } => {}
        other => panic!("{other:?}"),
    }
}

fn tensor_file(
    alignment: u64,
    offset: u64,
    type_id: u32,
    dims: &[u64],
    data_len: usize,
) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(b"GGUF");
    b.extend_from_slice(&3u32.to_le_bytes());
    b.extend_from_slice(&1u64.to_le_bytes());
    b.extend_from_slice(&0u64.to_le_bytes());
    b.extend_from_slice(&1u64.to_le_bytes());
    b.push(b't');
    b.extend_from_slice(&(dims.len() as u32).to_le_bytes());
    for d in dims {
        b.extend_from_slice(&d.to_le_bytes());
    }
    b.extend_from_slice(&type_id.to_le_bytes());
    b.extend_from_slice(&offset.to_le_bytes());
    while b.len() as u64 % alignment != 0 {
        b.push(0);
    }
    b.extend(std::iter::repeat_n(0u8, data_len));
    b
}

#[test]
fn tensor_info_errors() {
    assert!(parse(&tensor_file(32, 0, 0, &[4], 16)).is_ok());
    assert!(matches!(
        parse(&tensor_file(32, 0, 0, &[4], 15)).unwrap_err(),
        GgufError::Truncated { ref what, .. } if what.contains("tensor data of \"t\"")
    ));
    assert!(matches!(
        parse(&tensor_file(32, 1 << 20, 0, &[4], 16)).unwrap_err(),
        GgufError::TensorOutOfBounds { ref tensor, end, file_len } if tensor == "t" && end > file_len
    ));
    assert!(matches!(
        parse(&tensor_file(32, u64::MAX - 31, 0, &[4], 16)).unwrap_err(),
        GgufError::TensorOutOfBounds { .. }
    ));
    assert!(matches!(
        parse(&tensor_file(32, 4, 0, &[4], 64)).unwrap_err(),
        GgufError::MisalignedTensor {
            offset: 4,
            alignment: 32,
            ..
        }
    ));
    assert!(matches!(
        parse(&tensor_file(32, 0, 4, &[4], 16)).unwrap_err(),
        GgufError::UnknownTensorType { type_id: 4, .. }
    ));
    assert!(matches!(
        parse(&tensor_file(32, 0, 0, &[1, 1, 1, 1, 1], 16)).unwrap_err(),
        GgufError::InvalidTensorShape { .. }
    ));
    assert!(matches!(
        parse(&tensor_file(32, 0, 0, &[u64::MAX, 2], 16)).unwrap_err(),
        GgufError::InvalidTensorShape { .. }
    ));
    // Q4_K needs a multiple of 256 elements in the first dimension.
    assert!(matches!(
        parse(&tensor_file(32, 0, 12, &[100], 144)).unwrap_err(),
        GgufError::InvalidTensorShape { .. }
    ));
    assert_eq!(
        parse(&tensor_file(32, 0, 12, &[256, 2], 288))
            .unwrap()
            .tensors()[0]
            .size,
        288
    );
}

#[test]
fn deeply_nested_arrays_are_refused() {
    let mut v = MetadataValue::array(ValueType::U8, vec![]);
    for _ in 0..20 {
        v = MetadataValue::array(ValueType::Array, vec![v]);
    }
    let mut w = GgufWriter::new();
    w.set_metadata("deep", v).unwrap();
    assert!(matches!(
        parse(&w.to_bytes().unwrap()).unwrap_err(),
        GgufError::TooLarge { .. }
    ));
}

/// Small deterministic PRNG (xorshift64*), so failures reproduce.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn random_mutations_never_panic() {
    let good = all_types_writer(None).to_bytes().unwrap();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut ok, mut err) = (0, 0);
    for _ in 0..20_000 {
        let mut b = good.clone();
        for _ in 0..1 + rng.below(4) {
            if b.is_empty() {
                break;
            }
            let at = rng.below(b.len());
            match rng.below(4) {
                0 => b[at] ^= 1 << rng.below(8),
                1 => b[at] = rng.next() as u8,
                2 => {
                    // overwrite a whole little-endian u64 with an extreme value
                    let v = [0u64, 1, u64::MAX, u64::MAX / 2, 1 << 32][rng.below(5)];
                    let end = (at + 8).min(b.len());
                    b[at..end].copy_from_slice(&v.to_le_bytes()[..end - at]);
                }
                _ => b.truncate(at),
            }
        }
        match std::panic::catch_unwind(|| parse(&b)) {
            Ok(Ok(g)) => {
                ok += 1;
                // Whatever parsed must be internally consistent.
                for t in g.tensors() {
                    assert!(g.data_offset() + t.offset + t.size <= b.len() as u64);
                }
            }
            Ok(Err(_)) => err += 1,
            Err(_) => panic!("parser panicked on {b:?}"),
        }
    }
    assert!(
        err > 10_000,
        "most mutations must be detected: ok {ok}, err {err}"
    );
}
