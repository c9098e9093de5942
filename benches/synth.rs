//! Synth of the whole stack: build the models, validate them, serialize.
//! Run with `cargo bench --bench synth`.

use criterion::{criterion_group, criterion_main, Criterion};
use invctl::commands::synth::{artifacts, TemplateFormat};
use invctl::stack::{synthesize, Architecture};

fn synth(c: &mut Criterion) {
    c.bench_function("synthesize and validate", |b| {
        b.iter(|| synthesize(Architecture::Arm64).unwrap())
    });
    c.bench_function("synth to yaml files", |b| {
        b.iter(|| {
            let stack = synthesize(Architecture::Arm64).unwrap();
            artifacts(&stack, TemplateFormat::Yaml)
        })
    });
    c.bench_function("synth to json files", |b| {
        b.iter(|| {
            let stack = synthesize(Architecture::Arm64).unwrap();
            artifacts(&stack, TemplateFormat::Json)
        })
    });
}

criterion_group!(benches, synth);
criterion_main!(benches);
