//! The README demo: ask the bundled model a question and stream the answer.
//!
//! ```sh
//! bash scripts/install-model.sh        # once
//! cargo run --release -p trellis --example hello
//! ```

use std::io::Write;
use std::time::Instant;

use futures::StreamExt;
use trellis::{GenerationOptions, Model, Session};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let model = Model::bundled()?;
    println!(
        "Loaded {} in {:.2?}",
        model.path().display(),
        started.elapsed()
    );

    let session = Session::new(&model)
        .instructions("You are a friendly assistant. Answer in two or three sentences.")
        .options(GenerationOptions {
            max_tokens: 96,
            ..Default::default()
        });

    let prompt = "Why is the sky blue?";
    println!("\n> {prompt}\n");
    let mut stream = session.stream(prompt);
    while let Some(delta) = stream.next().await {
        print!("{}", delta?);
        std::io::stdout().flush()?;
    }
    println!();

    if let Some(usage) = session.last_usage() {
        println!(
            "\n{} prompt tokens in {:.0?}, {} tokens generated at {:.1} tokens/s",
            usage.prompt_tokens,
            usage.prompt_duration,
            usage.completion_tokens,
            usage.generation_tokens_per_second()
        );
    }
    Ok(())
}
