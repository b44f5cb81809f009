//! LoRA adapters: write a deterministic adapter for the bundled model, load it, and answer
//! the same prompt with and without it, then with a second adapter stacked on top.
//!
//! The adapter holds seeded pseudo-random weights (no training), so the adapted answer is
//! merely *different*, not better — it shows the mechanics. Load a real adapter (GGUF, or a
//! PEFT adapter converted with `trellis::lora::convert_peft`) the same way.
//!
//! ```sh
//! bash scripts/install-model.sh        # once
//! OMP_WAIT_POLICY=PASSIVE cargo run --release -p trellis --example adapter
//! ```

use trellis::lora::AdapterWriter;
use trellis::{Adapter, GenerationOptions, Model, ModelOptions, Sampling, Session};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let model = Model::bundled_with(ModelOptions {
        threads: 2,
        ..Default::default()
    })?;

    // 1. Write a rank-4 adapter on the attention queries/values and the MLP up-projections.
    let path = std::env::temp_dir().join("trellis-example-adapter.gguf");
    let base = trellis_gguf::GgufFile::open(model.path())?;
    AdapterWriter::new(&base)
        .target("blk.*.attn_q.weight")
        .target("blk.*.attn_v.weight")
        .target("blk.*.ffn_up.weight")
        .rank(4)
        .alpha(4.0)
        .amplitude(0.08)
        .seed(2026)
        .name("example-adapter")
        .metadata("training.creator", "trellis example (random weights)")
        .write(&path)?;

    // 2. Load it for the model (validated against the model before llama.cpp sees it).
    let adapter = Adapter::load(&model, &path)?;
    println!("adapter {}", adapter.path().display());
    println!("  name    {:?}", adapter.name());
    println!(
        "  rank    {:?}, alpha {:?}",
        adapter.rank(),
        adapter.alpha()
    );
    let targets = adapter.targets();
    println!(
        "  targets {} tensors, e.g. {}",
        targets.len(),
        targets.first().unwrap_or(&"-")
    );
    if let Some(creator) = adapter.metadata_value("training.creator") {
        println!("  creator {:?}", creator.as_str().unwrap_or_default());
    }

    // 3. The same prompt, greedy, without and with the adapter (both sessions share the model).
    let options = GenerationOptions {
        sampling: Sampling::Greedy,
        max_tokens: 40,
    };
    let base_session = Session::new(&model)
        .instructions("Answer in one sentence.")
        .options(options);
    let adapted = Session::new(&model)
        .instructions("Answer in one sentence.")
        .options(options)
        .adapter(&adapter, 1.0);
    let half = Session::new(&model)
        .instructions("Answer in one sentence.")
        .options(options)
        .adapter(&adapter, 0.5);

    let prompt = "What do cats like to do?";
    println!("\n> {prompt}");
    let (b, a, h) = futures::join!(
        base_session.respond(prompt),
        adapted.respond(prompt),
        half.respond(prompt)
    );
    println!("base model:          {}", b?.content);
    println!("adapter, scale 1.0:  {}", a?.content);
    println!("adapter, scale 0.5:  {}", h?.content);

    // 4. Detach between requests: the session answers like the base model again (compared
    //    with a base-model session holding the same conversation so far).
    adapted.set_adapter(None)?;
    let same_conversation = Session::from_transcript(&model, adapted.transcript()).options(options);
    let next = "Name a colour.";
    let (d, b) = futures::join!(adapted.respond(next), same_conversation.respond(next));
    let (d, b) = (d?.content, b?.content);
    println!("\n> {next}");
    println!("adapter detached:    {d}");
    println!("base model:          {b}");
    println!("identical:           {}", d == b);

    // 5. Stack a second adapter (other tensors, other weights) on top of the first, each with
    //    its own scale: their contributions add up.
    let second_path = std::env::temp_dir().join("trellis-example-adapter-2.gguf");
    AdapterWriter::new(&base)
        .target("blk.*.attn_k.weight")
        .target("blk.*.ffn_down.weight")
        .rank(4)
        .alpha(4.0)
        .amplitude(0.08)
        .seed(7)
        .name("example-adapter-2")
        .write(&second_path)?;
    let second = Adapter::load(&model, &second_path)?;
    let stacked = Session::new(&model)
        .instructions("Answer in one sentence.")
        .options(options)
        .adapter(&adapter, 1.0)
        .adapter(&second, 0.5);
    println!("\n> {prompt}");
    println!(
        "adapters 1.0 + 0.5:  {}",
        stacked.respond(prompt).await?.content
    );
    Ok(())
}
