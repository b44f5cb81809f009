//! Structured extraction: pull typed facts out of a paragraph.
//!
//! ```sh
//! cargo run --release -p trellis --example extract
//! ```

use trellis::{Generable, Model, Session};

/// A person mentioned in the text.
#[derive(Debug, Generable)]
struct Person {
    name: String,
    /// Age in years, when the text gives it.
    age: Option<u8>,
    #[guide(length = 1..=40)]
    role: String,
}

/// An event and who took part.
#[derive(Debug, Generable)]
struct Event {
    /// What happened, in a few words.
    #[guide(length = 3..=60)]
    title: String,
    /// The date in ISO form.
    #[guide(format = "date")]
    date: String,
    #[guide(count = 1..=4)]
    people: Vec<Person>,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let model = Model::bundled()?;
    let session = Session::new(&model).instructions("You extract facts from text as JSON.");
    let text = "On 14 March 2024 the town library reopened. Mayor Ana Lopez, 52, cut the \
                ribbon, and the head librarian, Tom Berg, gave a short speech.";
    println!("{text}\n");
    let event = session.respond_as::<Event>(text).await?.content;
    println!("{} on {}", event.title, event.date);
    for p in &event.people {
        let age = p.age.map(|a| format!(", {a}")).unwrap_or_default();
        println!("  - {}{age}: {}", p.name, p.role);
    }
    Ok(())
}
