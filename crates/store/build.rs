// `sqlx::migrate!` embeds the migration files at compile time, but cargo
// only knows about Rust sources: without this a new migration is missing
// from an incremental build until something else in the crate changes.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
