//! Integer decoding accepts every JSON spelling of an in-range integer, including `-0`
//! (valid for `"type": "integer"` with `"minimum": 0`), and refuses out-of-range values.

use trellis_schema::{Generable, GeneratedContent};

#[test]
fn negative_zero_decodes_as_zero() {
    let c: GeneratedContent = "-0".parse().expect("JSON");
    assert_eq!(u8::from_content(&c).expect("u8"), 0);
    assert_eq!(i64::from_content(&c).expect("i64"), 0);
    let arr: GeneratedContent = "[-0,0,100]".parse().expect("JSON");
    assert_eq!(<[u8; 3]>::from_content(&arr).expect("array"), [0, 0, 100]);
}

#[test]
fn out_of_range_and_fractions_are_refused() {
    let c: GeneratedContent = "300".parse().expect("JSON");
    assert!(u8::from_content(&c).is_err());
    let c: GeneratedContent = "-1".parse().expect("JSON");
    assert!(u32::from_content(&c).is_err());
    let c: GeneratedContent = "1.5".parse().expect("JSON");
    assert!(i32::from_content(&c).is_err());
}
