//! Bad model files and options give typed errors, never a crash.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::Mutex;

use trellis::{Error, Model, ModelOptions};

/// Tests that read or change environment variables run one at a time.
static ENV: Mutex<()> = Mutex::new(());

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("trellis-test-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn real_model_path() -> PathBuf {
    let _env = ENV.lock().unwrap_or_else(|p| p.into_inner());
    Model::bundled_path()
}

#[test]
fn missing_bundled_model_says_how_to_install_it() {
    let _env = ENV.lock().unwrap_or_else(|p| p.into_inner());
    let empty = temp_dir("empty-cache");
    let old = std::env::var_os("TRELLIS_CACHE_DIR");
    std::env::set_var("TRELLIS_CACHE_DIR", &empty);
    let result = Model::bundled();
    match old {
        Some(v) => std::env::set_var("TRELLIS_CACHE_DIR", v),
        None => std::env::remove_var("TRELLIS_CACHE_DIR"),
    }
    let err = result.unwrap_err();
    match &err {
        Error::ModelNotInstalled {
            path,
            install_command,
        } => {
            assert_eq!(path, &empty.join("models").join("gemma-3-270m-q4_k_m.gguf"));
            assert_eq!(install_command, "bash scripts/install-model.sh");
        }
        other => panic!("expected ModelNotInstalled, got {other:?}"),
    }
    assert!(
        err.to_string()
            .contains("run `bash scripts/install-model.sh`"),
        "{err}"
    );
}

#[test]
fn cache_dir_follows_the_environment() {
    let _env = ENV.lock().unwrap_or_else(|p| p.into_inner());
    let saved: Vec<_> = ["TRELLIS_CACHE_DIR", "XDG_CACHE_HOME"]
        .iter()
        .map(|k| (k, std::env::var_os(k)))
        .collect();
    std::env::remove_var("TRELLIS_CACHE_DIR");
    std::env::set_var("XDG_CACHE_HOME", "/xdg");
    let xdg = trellis::cache_dir();
    std::env::set_var("TRELLIS_CACHE_DIR", "/explicit");
    let explicit = trellis::cache_dir();
    for (k, v) in saved {
        match v {
            Some(v) => std::env::set_var(k, v),
            None => std::env::remove_var(k),
        }
    }
    assert_eq!(xdg, PathBuf::from("/xdg/trellis"));
    assert_eq!(explicit, PathBuf::from("/explicit"));
}

#[test]
fn nonexistent_path() {
    let err = Model::load("/definitely/not/here.gguf", ModelOptions::default()).unwrap_err();
    assert!(
        matches!(err, Error::ModelNotFound { ref path } if path.ends_with("here.gguf")),
        "{err}"
    );
}

#[test]
fn not_a_gguf_file() {
    let dir = temp_dir("not-gguf");
    let text = dir.join("model.gguf");
    std::fs::write(&text, "this is a text file, not a model\n").unwrap();
    let err = Model::load(&text, ModelOptions::default()).unwrap_err();
    assert!(matches!(err, Error::NotGguf { .. }), "{err}");
    let tiny = dir.join("tiny.gguf");
    std::fs::write(&tiny, b"GG").unwrap();
    assert!(matches!(
        Model::load(&tiny, ModelOptions::default()),
        Err(Error::NotGguf { .. })
    ));
    let empty = dir.join("empty.gguf");
    std::fs::write(&empty, b"").unwrap();
    assert!(matches!(
        Model::load(&empty, ModelOptions::default()),
        Err(Error::NotGguf { .. })
    ));
    assert!(matches!(
        Model::load(&dir, ModelOptions::default()),
        Err(Error::NotGguf { .. })
    ));
    std::fs::remove_dir_all(dir).unwrap();
}

/// Copies the first `len` bytes of the real model.
fn truncated_copy(dir: &std::path::Path, name: &str, len: u64) -> PathBuf {
    let mut src = std::fs::File::open(real_model_path()).expect("bundled model installed");
    let path = dir.join(name);
    let mut dst = std::fs::File::create(&path).unwrap();
    let mut buf = vec![0u8; 1 << 20];
    let mut left = len;
    while left > 0 {
        let n = src.read(&mut buf[..left.min(1 << 20) as usize]).unwrap();
        assert!(n > 0);
        dst.write_all(&buf[..n]).unwrap();
        left -= n as u64;
    }
    path
}

#[test]
fn truncated_gguf_files() {
    let dir = temp_dir("truncated");
    let full = std::fs::metadata(real_model_path()).unwrap().len();
    // Cut in the tensor data (an interrupted download), in the metadata, right after the magic.
    for (name, len) in [
        ("data.gguf", full - 4096),
        ("half.gguf", full / 2),
        ("meta.gguf", 5000),
        ("head.gguf", 6),
    ] {
        let path = truncated_copy(&dir, name, len);
        let err = Model::load(&path, ModelOptions::default()).unwrap_err();
        assert!(
            matches!(err, Error::TruncatedGguf { .. }),
            "{name}: {err:?}"
        );
        assert!(err.to_string().contains("truncated"), "{err}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn corrupt_header_is_invalid_gguf() {
    let dir = temp_dir("corrupt");
    let path = truncated_copy(&dir, "v.gguf", 4096);
    // Version 99.
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[4..8].copy_from_slice(&99u32.to_le_bytes());
    std::fs::write(&path, &bytes).unwrap();
    let err = Model::load(&path, ModelOptions::default()).unwrap_err();
    assert!(matches!(err, Error::InvalidGguf { .. }), "{err:?}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn invalid_model_options() {
    let path = real_model_path();
    let bad = [
        ModelOptions {
            threads: 0,
            ..Default::default()
        },
        ModelOptions {
            context_size: 0,
            ..Default::default()
        },
        ModelOptions {
            batch_size: 0,
            ..Default::default()
        },
    ];
    for options in bad {
        let err = Model::load(&path, options.clone()).unwrap_err();
        assert!(
            matches!(err, Error::InvalidOptions { .. }),
            "{options:?}: {err}"
        );
    }
}

#[test]
fn default_threads_are_physical_cores() {
    let logical = std::thread::available_parallelism().unwrap().get();
    let threads = ModelOptions::default().threads;
    assert!(threads >= 1 && threads <= logical);
    assert_eq!(ModelOptions::default().context_size, 4096);
}

#[test]
fn valid_gguf_that_llama_cpp_cannot_load_is_a_model_load_error() {
    let dir = temp_dir("unknown-arch");
    let path = dir.join("weird.gguf");
    let mut w = trellis_gguf::GgufWriter::new();
    w.set_metadata("general.architecture", "no-such-architecture")
        .unwrap();
    w.add_tensor_f32("token_embd.weight", &[4, 2], &[0.0; 8])
        .unwrap();
    w.write_file(&path).unwrap();
    let err = Model::load(&path, ModelOptions::default()).unwrap_err();
    assert!(matches!(err, Error::ModelLoad { .. }), "{err:?}");
    std::fs::remove_dir_all(dir).unwrap();
}
