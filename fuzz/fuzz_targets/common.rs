// Shared by the targets (included with `mod common;`): one configuration for all of them.
use acmeforward::{Config, ConfigBuilder, Engine, Fact, UpstreamMode};

pub fn config() -> Config {
    let mut builder = ConfigBuilder::new();
    builder.zone("example.com").expect("zone");
    builder.zone("sub.example.org.").expect("zone");
    builder.delegated("auth.example.net").expect("delegated");
    builder.upstream("127.0.0.1:53").expect("upstream");
    builder.max_ttl(30).expect("max_ttl");
    builder.build().expect("config")
}

/// An engine in recursive mode that has learned a few names (so classify consults the learned
/// state for every question).
pub fn engine() -> Engine {
    let engine = Engine::new(config());
    engine.learn(
        b"\x01t\x04acme\x07example\x03net\x00",
        Fact::CnameTarget,
        300,
        0,
    );
    engine.learn(b"\x03ns1\x07example\x03com\x00", Fact::NsHost, 300, 0);
    engine.learn(b"\x07example\x03org\x00", Fact::Ancestor, 300, 0);
    engine
}

/// The same configuration in authoritative mode.
#[allow(dead_code)] // not every target uses it
pub fn authoritative_engine() -> Engine {
    let mut builder = ConfigBuilder::new();
    builder.zone("example.com").expect("zone");
    builder.upstream("127.0.0.1:53").expect("upstream");
    builder.upstream_mode(UpstreamMode::Authoritative);
    Engine::new(builder.build().expect("config"))
}
