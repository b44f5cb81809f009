//! Typed generation: the model fills in a `Recipe` whose fields carry guides. The grammar
//! guarantees the answer parses: `servings` is always within 1..=12, there are always 2 to 6
//! steps, and so on.
//!
//! ```sh
//! cargo run --release -p trellis --example recipe
//! ```

use trellis::{Generable, GenerationOptions, Model, Session};

/// A recipe.
#[derive(Debug, Generable)]
struct Recipe {
    /// A short dish name.
    #[guide(length = 3..=40)]
    name: String,
    /// How many people it serves.
    #[guide(range = 1..=12)]
    servings: u8,
    #[guide(count = 2..=6, element(length = 2..=30))]
    ingredients: Vec<String>,
    #[guide(count = 2..=6, element(length = 5..=100))]
    steps: Vec<String>,
    difficulty: Difficulty,
}

#[derive(Debug, Generable)]
#[serde(rename_all = "lowercase")]
enum Difficulty {
    Easy,
    Medium,
    Hard,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let model = Model::bundled()?;
    let session = Session::new(&model)
        .instructions("You are a chef. You write short, practical recipes.")
        .options(GenerationOptions {
            max_tokens: 400,
            ..Default::default()
        });

    let prompt = "A simple dinner with lentils.";
    println!("> {prompt}\n");
    let response = session.respond_as::<Recipe>(prompt).await?;
    let recipe = response.content;
    println!(
        "{} (serves {}, {:?})",
        recipe.name, recipe.servings, recipe.difficulty
    );
    println!("Ingredients:");
    for i in &recipe.ingredients {
        println!("  - {i}");
    }
    println!("Steps:");
    for (n, s) in recipe.steps.iter().enumerate() {
        println!("  {}. {s}", n + 1);
    }
    let u = response.usage;
    println!(
        "\n{} tokens in {:.1?} ({:.1} tokens/s)",
        u.completion_tokens,
        u.generation_duration,
        u.generation_tokens_per_second()
    );
    Ok(())
}
