// Shared by the targets (included with `mod common;`): one configuration for all of them.
use acmeforward::{Config, ConfigBuilder};

pub fn config() -> Config {
    let mut builder = ConfigBuilder::new();
    builder.zone("example.com").expect("zone");
    builder.zone("sub.example.org.").expect("zone");
    builder.upstream("127.0.0.1:53").expect("upstream");
    builder.max_ttl(30).expect("max_ttl");
    builder.build().expect("config")
}
