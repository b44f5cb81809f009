//! Compile-time probe: `cargo run --release -p trellis-grammar --example compile_probe SCHEMA.json [N]`
use std::time::Instant;
use trellis_grammar::*;
fn main() {
    let p = std::env::args().nth(1).expect("schema path");
    let n: usize = std::env::args()
        .nth(2)
        .and_then(|x| x.parse().ok())
        .unwrap_or(20);
    let s: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
    let t = Instant::now();
    let mut st = None;
    for _ in 0..n {
        st = Some(
            Grammar::from_json_schema(&s, &CompileOptions::default())
                .unwrap()
                .stats(),
        );
    }
    println!(
        "{:.2} ms per compile, {:?}",
        t.elapsed().as_secs_f64() * 1e3 / n as f64,
        st.unwrap()
    );
}
