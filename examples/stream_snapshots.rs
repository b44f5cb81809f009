//! Streaming a typed answer: each snapshot is the value so far (every field optional), and
//! the last one becomes the final `Itinerary`.
//!
//! ```sh
//! cargo run --release -p trellis --example stream_snapshots
//! ```

use futures::StreamExt;
use trellis::{Generable, Model, Session};

#[derive(Debug, Generable)]
struct Day {
    #[guide(length = 3..=40)]
    city: String,
    #[guide(count = 1..=3, element(length = 3..=50))]
    activities: Vec<String>,
}

#[derive(Debug, Generable)]
struct Itinerary {
    #[guide(length = 3..=50)]
    title: String,
    #[guide(count = 2..=3)]
    days: Vec<Day>,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let model = Model::bundled()?;
    let session = Session::new(&model).instructions("You plan short trips.");
    let mut stream = session.stream_as::<Itinerary>("Three days in Italy.");
    let mut n = 0;
    while let Some(snapshot) = stream.next().await {
        let snapshot = snapshot?;
        n += 1;
        // Print a few snapshots in full, then just count them.
        if n % 10 == 1 {
            println!("snapshot {n}: {:?}", snapshot.partial);
        }
    }
    let itinerary = stream.collect().await?;
    println!("\n{n} snapshots; final value: {}", itinerary.title);
    for (i, day) in itinerary.days.iter().enumerate() {
        println!(
            "  day {}: {} — {}",
            i + 1,
            day.city,
            day.activities.join("; ")
        );
    }
    Ok(())
}
