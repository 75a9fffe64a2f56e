//! Temporary probe (baselines engineer): fits the baselines on mnist10k and prints the reports.
use genzoo_core::baselines;
use genzoo_core::data::registry;

fn main() -> genzoo_core::Result<()> {
    let split0 = registry::load_mnist10k()?;
    let val = std::env::var("VAL").is_ok();
    let split = if val {
        let tr = &split0.train;
        let n = tr.len();
        let mk = |s: i64, l: i64, name: &str| genzoo_core::data::Dataset { name: name.into(), kind: tr.kind, x: tr.x.narrow(0, s, l), y: None, num_classes: None };
        // train is stratified/shuffled? take a random permutation to be safe
        genzoo_core::data::Split { train: mk(0, n - 900, "mnist10k/train-val"), test: mk(n - 900, 900, "mnist10k/val") }
    } else { split0 };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut it = args.iter();
    while let Some(name) = it.next() {
        let over = it.next().map(|s| serde_json::from_str::<serde_json::Value>(s).unwrap());
        let over = over.filter(|v| !v.as_object().map_or(true, |o| o.is_empty()));
        let mut m = baselines::build(name, "default", over.as_ref())?;
        let r = baselines::evaluate(m.as_mut(), &split.train, &split.test, 0)?;
        println!("json {}", serde_json::to_string(&r.report)?);
        println!("{name} nll {:?} {} fit {:.1}s params {} samples/s {:.0}", r.report.nll, r.report.unit.label(), r.fit_seconds, r.params, r.samples_per_second);
    }
    Ok(())
}
