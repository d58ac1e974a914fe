//! Writes the generated seeds (`suit_fuzz::seeds`: payloads encrypted to the harnesses'
//! device keys) into OUT/<target>/, next to what fuzz/seeds.py writes there.
//!
//!     cargo run --manifest-path fuzz/Cargo.toml --example seeds -- OUT

fn main() {
    let out = std::env::args_os()
        .nth(1)
        .expect("usage: seeds OUT (the seed directory, as seeds.py takes it)");
    let n = suit_fuzz::seeds::write(std::path::Path::new(&out)).expect("writing the seeds");
    println!("seeds: {n} generated seeds");
}
