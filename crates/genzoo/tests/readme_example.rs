//! The README's library example is `examples/readme.rs` word for word, so that what a newcomer
//! copies is what CI compiles (and `.ci/run` runs).
#[test]
fn the_readme_example_is_the_compiled_one() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("../../README.md")).unwrap();
    let at = readme
        .find("## Library example")
        .expect("a library example section");
    let start = readme[at..].find("```rust\n").expect("a rust block") + at + "```rust\n".len();
    let end = readme[start..].find("```").expect("the block's end") + start;
    let example = std::fs::read_to_string(root.join("examples/readme.rs")).unwrap();
    let body: String = example
        .lines()
        .skip_while(|l| l.starts_with("//!"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(readme[start..end], body);
}
