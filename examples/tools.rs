//! Tool calling: a calculator and a lookup over a small in-memory table. The model decides
//! which tool to call and with which arguments (always valid: decoding is grammar-
//! constrained); the session runs the calls and gives the results back until it answers.
//!
//! ```sh
//! OMP_WAIT_POLICY=PASSIVE cargo run --release -p trellis --example tools
//! ```

use trellis::{Entry, Generable, Model, ModelOptions, Session, Tool};

#[derive(Debug, Generable, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum Operation {
    Add,
    Subtract,
    Multiply,
    Divide,
}

/// Two numbers and an operation.
#[derive(Debug, Generable)]
struct CalculatorArgs {
    a: f64,
    operation: Operation,
    b: f64,
}

struct Calculator;

#[trellis::async_trait]
impl Tool for Calculator {
    type Arguments = CalculatorArgs;
    type Output = f64;
    type Error = String;

    fn name(&self) -> &str {
        "calculator"
    }

    fn description(&self) -> &str {
        "Computes a op b for two numbers."
    }

    async fn call(&self, args: CalculatorArgs) -> Result<f64, String> {
        Ok(match args.operation {
            Operation::Add => args.a + args.b,
            Operation::Subtract => args.a - args.b,
            Operation::Multiply => args.a * args.b,
            Operation::Divide if args.b == 0.0 => return Err("division by zero".into()),
            Operation::Divide => args.a / args.b,
        })
    }
}

/// A country to look up.
#[derive(Debug, Generable)]
struct CapitalArgs {
    country: String,
}

struct Capitals;

#[trellis::async_trait]
impl Tool for Capitals {
    type Arguments = CapitalArgs;
    type Output = String;
    type Error = String;

    fn name(&self) -> &str {
        "capital"
    }

    fn description(&self) -> &str {
        "Looks up the capital city of a country."
    }

    async fn call(&self, args: CapitalArgs) -> Result<String, String> {
        const TABLE: &[(&str, &str)] = &[
            ("france", "Paris"),
            ("japan", "Tokyo"),
            ("kenya", "Nairobi"),
            ("peru", "Lima"),
            ("canada", "Ottawa"),
        ];
        let key = args.country.trim().to_lowercase();
        TABLE
            .iter()
            .find(|(c, _)| *c == key)
            .map(|(_, capital)| capital.to_string())
            .ok_or_else(|| format!("no capital known for {:?}", args.country))
    }
}

/// A base model follows the call format much better after a few worked examples.
const INSTRUCTIONS: &str = "You answer questions and use tools when they help.\n\n\
Q: What is 2 plus 3?\n\
A: {\"tool_calls\":[{\"name\":\"calculator\",\"arguments\":{\"a\":2,\"operation\":\"add\",\"b\":3}}]}\n\n\
Q: Tool results:\ncalculator: 5\n\
A: {\"answer\":\"5\"}\n\n\
Q: What is the capital of Kenya?\n\
A: {\"tool_calls\":[{\"name\":\"capital\",\"arguments\":{\"country\":\"Kenya\"}}]}\n\n\
Q: Tool results:\ncapital: Nairobi\n\
A: {\"answer\":\"Nairobi\"}\n\n\
Q: Say thanks.\n\
A: {\"answer\":\"Thank you!\"}";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let model = Model::bundled_with(ModelOptions {
        context_size: 2048,
        threads: 2,
        ..Default::default()
    })?;
    let questions = [
        "What is 17 multiplied by 23?",
        "What is the capital of Japan?",
        "Say hello.",
    ];
    for question in questions {
        let session = Session::new(&model)
            .options(trellis::GenerationOptions {
                max_tokens: 96,
                ..Default::default()
            })
            .instructions(INSTRUCTIONS)
            .tool(Calculator)
            .tool(Capitals)
            .tool_options(trellis::ToolOptions {
                on_error: trellis::ToolErrorPolicy::ReportToModel,
                max_rounds: 2,
                ..Default::default()
            });
        println!("Q: {question}");
        match session.respond(question).await {
            Ok(answer) => {
                for entry in session.transcript().entries() {
                    match entry {
                        Entry::ToolCalls { calls } => {
                            for c in calls {
                                println!("  call   {}({})", c.name, c.arguments);
                            }
                        }
                        Entry::ToolOutput { tool, output } => println!("  output {tool}: {output}"),
                        _ => {}
                    }
                }
                println!(
                    "A: {} ({} tokens generated)\n",
                    answer.content, answer.usage.completion_tokens
                );
            }
            Err(e) => println!("  error: {e}\n"),
        }
    }
    Ok(())
}
