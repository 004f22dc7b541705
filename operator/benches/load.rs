//! Benchmark of loading desired-state (read, index, deserialize, validate): the same
//! Service document repeated under new names, N documents in one file against N files of
//! one document, for growing N. Loading must stay linear: the time per document should
//! not grow with N. Run with `cargo bench -p shoal --bench load`; the method and figures
//! are in bench/RESULTS.md.

use std::path::Path;
use std::time::Instant;

use shoal::source::validate::{ValidateOptions, validate_dir};

fn service(index: usize) -> String {
    format!(
        "apiVersion: shoal/v1alpha1\nkind: Service\nmetadata:\n  name: web-{index}\nspec:\n  \
         image: nginx:1.27\n  replicas: 2\n  env:\n    - {{name: MODE, value: production}}\n  \
         resources:\n    limits: {{memory: 64M}}\n  healthcheck:\n    test: [\"CMD\", \"true\"]\n    \
         interval: 10s\n"
    )
}

/// Milliseconds to validate `dir`, the best of three, checking it held `documents`.
fn time(dir: &Path, documents: usize) -> f64 {
    (0..3)
        .map(|_| {
            let started = Instant::now();
            let validation = validate_dir(dir, &ValidateOptions::default()).expect("loads");
            let took = started.elapsed().as_secs_f64() * 1000.0;
            assert_eq!(validation.desired.resources.len(), documents);
            took
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    println!("documents  one file (ms, µs/doc)   one file each (ms, µs/doc)");
    for documents in [1_000, 2_000, 4_000, 8_000, 16_000] {
        let one_file = tempfile::tempdir().unwrap();
        let text: Vec<String> = (0..documents).map(service).collect();
        std::fs::write(one_file.path().join("all.yaml"), text.join("---\n")).unwrap();
        let many_files = tempfile::tempdir().unwrap();
        for (index, document) in text.iter().enumerate() {
            std::fs::write(many_files.path().join(format!("{index}.yaml")), document).unwrap();
        }
        let (one, many) = (
            time(one_file.path(), documents),
            time(many_files.path(), documents),
        );
        println!(
            "{documents:>9}  {one:>8.0} {:>6.1}            {many:>8.0} {:>6.1}",
            one * 1000.0 / documents as f64,
            many * 1000.0 / documents as f64
        );
    }
}
