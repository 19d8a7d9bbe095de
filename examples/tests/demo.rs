//! The one-command demo as a test: its library entry point runs the whole story against a
//! sandbox bank on 127.0.0.1:0, then a consent hub and a bank in hub mode, and succeeds, and its output names every step.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use openbanking_examples::demo::{self, ACT1_STEPS, ACT2_STEPS};

#[tokio::test]
async fn the_demo_tells_every_step_and_every_step_behaves() {
    let mut lines: Vec<String> = Vec::new();
    let mut out = |line: &str| lines.push(line.to_owned());
    let summary = demo::run(&mut out).await;
    let output = lines.join("\n");
    println!("{output}");
    let summary = summary.unwrap_or_else(|e| panic!("{e}\n{output}"));
    assert_eq!(summary.steps, ACT1_STEPS.len() + ACT2_STEPS.len());
    assert!(output.contains("Act 2: the centralized model"), "{output}");
    for step in ACT1_STEPS.iter().chain(ACT2_STEPS) {
        assert!(lines.iter().any(|l| l.contains(&format!(". {step} "))), "no line names step {step:?}:\n{output}");
    }
    assert!(!output.contains("SURPRISE"), "{output}");
    assert!(lines.last().unwrap().contains("Every step behaved"), "{output}");
}
