//! The Fluent message files are read at compile time (`fluent_templates::static_loader!`), so a
//! changed or NEW `.ftl` file must rebuild this crate: cargo watches the whole directory.
fn main() {
    println!("cargo:rerun-if-changed=locales");
}
