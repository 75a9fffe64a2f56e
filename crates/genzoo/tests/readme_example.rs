//! The code blocks of the README and of `docs/embedding.md` are `examples/readme.rs` and
//! `examples/api.rs` word for word, so that what a newcomer copies is what CI compiles (and
//! `.ci/run` runs).
use std::path::Path;

/// The first ```rust block after `heading` in `doc` (a path from the repository root).
fn block(doc: &str, heading: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let text = std::fs::read_to_string(root.join(doc)).unwrap();
    let at = text
        .find(heading)
        .unwrap_or_else(|| panic!("{doc}: no `{heading}`"));
    let start = text[at..].find("```rust\n").expect("a rust block") + at + "```rust\n".len();
    let end = text[start..].find("```").expect("the block's end") + start;
    text[start..end].to_string()
}

/// The example file's code below its `//!` header.
fn example(name: &str) -> String {
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name);
    std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .skip_while(|l| l.starts_with("//!"))
        .map(|l| format!("{l}\n"))
        .collect()
}

#[test]
fn the_readme_example_is_the_compiled_one() {
    assert_eq!(
        block("README.md", "## Library example"),
        example("readme.rs")
    );
}

#[test]
fn the_embedding_guide_is_the_compiled_one() {
    assert_eq!(
        block("docs/embedding.md", "## The API in one screen"),
        example("api.rs")
    );
}
