//! Placeholder demo until the packet codec lands.
fn main() {
    println!("quic-wire demo: the packet codec is not built yet; see the README.");
}
