//! Cache hits at 1k/10k/100k entries (exact key and superset-of-scopes paths), the
//! same hit through a shared file cache (which first checks that no other process
//! saved: one `stat`), and serialize/deserialize at 100k entries (and a load followed
//! by the first lookup, which builds the indexes). Run with `cargo bench -p
//! tokenhop-cache` (or `cargo xtask bench`).

use std::hint::black_box;

use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};
use tokenhop_cache::synthetic::{self, SyntheticCache};
use tokenhop_cache::{
    AccessTokenLookup, CacheOptions, FilePersistence, SharedTokenCache, Stamp, TokenCache,
};

fn hits(c: &mut Criterion) {
    let mut group = c.benchmark_group("hit");
    for entries in [1_000, 10_000, 100_000] {
        let SyntheticCache { cache, probe } = synthetic::build(entries);
        let exact = probe.exact_query();
        let superset = probe.superset_query();
        assert!(matches!(
            cache.find_access_token(&exact, synthetic::NOW),
            AccessTokenLookup::Hit(_)
        ));
        assert!(matches!(
            cache.find_access_token(&superset, synthetic::NOW),
            AccessTokenLookup::Hit(_)
        ));
        group.bench_with_input(BenchmarkId::new("exact", entries), &entries, |b, _| {
            b.iter(|| black_box(cache.find_access_token(black_box(&exact), synthetic::NOW)))
        });
        group.bench_with_input(BenchmarkId::new("superset", entries), &entries, |b, _| {
            b.iter(|| black_box(cache.find_access_token(black_box(&superset), synthetic::NOW)))
        });
    }
    group.finish();
}

/// A hit through a [`SharedTokenCache`] on a file: the change check (the file's stamp
/// against memory's) and then the same lookup as `hit/exact/1000`.
fn change_check(c: &mut Criterion) {
    let mut group = c.benchmark_group("shared_hit");
    let SyntheticCache { mut cache, probe } = synthetic::build(1_000);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("cache.json");
    std::fs::write(&path, cache.serialize()).expect("the cache file is written");
    let shared = SharedTokenCache::new(FilePersistence::new(&path), CacheOptions::default());
    let exact = probe.exact_query();
    let hit = |c: &TokenCache| {
        matches!(
            c.find_access_token(&exact, synthetic::NOW),
            AccessTokenLookup::Hit(_)
        )
    };
    assert!(shared.read(hit).expect("the file cache loads"));
    assert_eq!(shared.read_if_current(hit), Some(true));
    // The check alone: the file's stamp (one stat).
    group.bench_function("stamp", |b| {
        b.iter(|| black_box(Stamp::of_file(black_box(&path))))
    });
    group.bench_function("read_if_current/1000", |b| {
        b.iter(|| black_box(shared.read_if_current(|c| hit(black_box(c)))))
    });
    group.bench_function("read/1000", |b| {
        b.iter(|| black_box(shared.read(|c| hit(black_box(c)))))
    });
    group.finish();
}

fn serialization(c: &mut Criterion) {
    let mut group = c.benchmark_group("serde_100k");
    group.sample_size(10);
    let SyntheticCache {
        cache: built,
        probe,
    } = synthetic::build(100_000);
    let text = built.to_json();
    // As MSAL's figure is taken (`tests/interop/msal_cache_timing.py`): the cache just
    // loaded from the same text.
    let mut loaded = TokenCache::deserialize(&text, CacheOptions::default()).unwrap();
    assert_eq!(loaded.to_json(), text);
    group.bench_function("serialize", |b| b.iter(|| black_box(loaded.to_json())));
    // Into the buffer of the save before, as a host that saves often can.
    let mut buffer = String::new();
    group.bench_function("serialize_reused", |b| {
        b.iter(|| {
            loaded.serialize_into(&mut buffer);
            black_box(buffer.len())
        })
    });
    assert_eq!(buffer, text);
    // The cache as the write path built it, entry by entry.
    group.bench_function("serialize_built", |b| b.iter(|| black_box(built.to_json())));
    // Freeing the cache is not timed (nor is it in MSAL's figure).
    group.bench_function("deserialize", |b| {
        b.iter_batched(
            || (),
            |()| TokenCache::deserialize(black_box(&text), CacheOptions::default()),
            BatchSize::PerIteration,
        )
    });
    // Loading builds no lookup index; the first lookup does.
    let query = probe.exact_query();
    group.bench_function("deserialize_then_hit", |b| {
        b.iter_batched(
            || (),
            |()| {
                let cache =
                    TokenCache::deserialize(black_box(&text), CacheOptions::default()).unwrap();
                assert!(matches!(
                    cache.find_access_token(&query, synthetic::NOW),
                    AccessTokenLookup::Hit(_)
                ));
                cache
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, hits, change_check, serialization);
criterion_main!(benches);
