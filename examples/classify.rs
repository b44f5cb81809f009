//! Classification and tagging with enums: the model can only answer with one of the
//! variants, and its tags come from a fixed set.
//!
//! ```sh
//! cargo run --release -p trellis --example classify
//! ```

use trellis::{Generable, Model, Session};

#[derive(Debug, Generable, PartialEq)]
#[serde(rename_all = "snake_case")]
enum Sentiment {
    Positive,
    Neutral,
    Negative,
}

/// How a customer review reads.
#[derive(Debug, Generable)]
struct ReviewLabel {
    sentiment: Sentiment,
    /// Topics the review talks about.
    #[guide(count = 1..=3, element(any_of = ["price", "quality", "delivery", "service", "design"]))]
    topics: Vec<String>,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let model = Model::bundled()?;
    let reviews = [
        "Arrived two days late and the box was crushed, but the blender itself works great.",
        "Absolutely love the colour and the shape, worth every penny!",
        "It is a chair. It holds me up. Nothing more to say.",
    ];
    for review in reviews {
        // A fresh session per review: each is classified independently.
        let session = Session::new(&model)
            .instructions("You label customer reviews by sentiment and topics.");
        let label = session
            .respond_as::<ReviewLabel>(format!("Review: {review}"))
            .await?
            .content;
        println!(
            "{review}\n  -> {:?}, topics {:?}\n",
            label.sentiment, label.topics
        );
    }
    Ok(())
}
