//! `schema.graphql` at the workspace root is what clients read: it must be
//! the SDL the code serves.

#[test]
fn schema_graphql_matches_the_code() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../schema.graphql");
    let on_disk = std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!("cannot read {path}: {e}; run `cargo run -- schema > schema.graphql`")
    });
    let from_code = orbit_api::schema_sdl();
    if on_disk.replace("\r\n", "\n").trim_end() != from_code.trim_end() {
        let first_difference = on_disk
            .lines()
            .zip(from_code.lines())
            .enumerate()
            .find(|(_, (disk, code))| disk != code)
            .map(|(i, (disk, code))| {
                format!("line {}: file has `{disk}`, code has `{code}`", i + 1)
            })
            .unwrap_or_else(|| "one is a prefix of the other".to_owned());
        panic!(
            "schema.graphql is stale ({first_difference}). \
             Run `cargo run -- schema > schema.graphql` and commit the result."
        );
    }
}
