//! Tests of [`super`] (the downloader) against a std `TcpListener` HTTP server on 127.0.0.1 that
//! serves good, corrupted and truncated fixtures, cuts connections and honours `Range`.
use super::*;
use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

#[derive(Clone)]
enum Serve {
    /// The file, with Range support.
    Good(Vec<u8>),
    /// Other bytes of the same length.
    Corrupt(Vec<u8>),
    /// A truncated file, served completely (its Content-Length is the short length).
    Truncated(Vec<u8>),
    /// The first request without Range gets headers for the whole file but only `cut` bytes,
    /// then the connection closes; later requests are served with Range support.
    CutOnce(Vec<u8>, usize),
    NotFound,
}

/// (path, Range header) of every request, in order.
type RequestLog = Arc<Mutex<Vec<(String, Option<String>)>>>;

struct Server {
    base: String,
    log: RequestLog,
}

fn serve(routes: HashMap<String, Serve>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let log = Arc::new(Mutex::new(Vec::new()));
    let log2 = log.clone();
    let mut cut_done: HashMap<String, bool> = HashMap::new();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
            let mut range = None;
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
                    break;
                }
                if let Some((k, v)) = h.split_once(':') {
                    if k.eq_ignore_ascii_case("range") {
                        range = Some(v.trim().to_string());
                    }
                }
            }
            log2.lock().unwrap().push((path.clone(), range.clone()));
            let start = range
                .as_deref()
                .and_then(|r| r.strip_prefix("bytes="))
                .and_then(|r| r.trim_end_matches('-').parse::<usize>().ok());
            let send = |s: &mut std::net::TcpStream,
                        status: &str,
                        extra: String,
                        body: &[u8],
                        len: usize| {
                let head = format!("HTTP/1.1 {status}\r\nContent-Length: {len}\r\n{extra}Connection: close\r\n\r\n");
                let _ = s.write_all(head.as_bytes());
                let _ = s.write_all(body);
            };
            let ranged = |s: &mut std::net::TcpStream, data: &[u8]| match start {
                Some(a) if a >= data.len() => {
                    send(s, "416 Range Not Satisfiable", String::new(), b"", 0)
                }
                Some(a) => {
                    let cr = format!(
                        "Content-Range: bytes {a}-{}/{}\r\n",
                        data.len() - 1,
                        data.len()
                    );
                    send(s, "206 Partial Content", cr, &data[a..], data.len() - a)
                }
                None => send(s, "200 OK", String::new(), data, data.len()),
            };
            match routes.get(&path).cloned().unwrap_or(Serve::NotFound) {
                Serve::Good(d) => ranged(&mut stream, &d),
                Serve::Corrupt(d) | Serve::Truncated(d) => {
                    send(&mut stream, "200 OK", String::new(), &d, d.len())
                }
                Serve::CutOnce(d, cut) => {
                    if start.is_none() && !cut_done.get(&path).copied().unwrap_or(false) {
                        cut_done.insert(path.clone(), true);
                        send(&mut stream, "200 OK", String::new(), &d[..cut], d.len());
                    } else {
                        ranged(&mut stream, &d);
                    }
                }
                Serve::NotFound => send(&mut stream, "404 Not Found", String::new(), b"no", 2),
            }
            let _ = stream.flush();
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
    });
    Server { base, log }
}

fn fixture() -> (Vec<u8>, FileSpec) {
    let data: Vec<u8> = (0..50_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let spec = FileSpec {
        name: "f.gz".into(),
        sha256: sha256_hex(&data),
        raw_sha256: None,
    };
    (data, spec)
}

fn quick() -> DownloadOptions {
    DownloadOptions {
        attempts: 3,
        backoff: Duration::from_millis(1),
        timeout: Duration::from_secs(5),
        from: None,
        use_system: false,
        network: true,
        verbose: false,
    }
}

fn routes(list: Vec<(&str, Serve)>) -> HashMap<String, Serve> {
    list.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

#[test]
fn good_mirror_downloads_and_verifies() {
    let (data, spec) = fixture();
    let srv = serve(routes(vec![("/a/f.gz", Serve::Good(data.clone()))]));
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("f.gz");
    fetch(&[format!("{}/a/f.gz", srv.base)], &dest, &spec, &quick()).unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), data);
    assert!(!part_path(&dest).exists());
}

#[test]
fn corrupted_and_missing_mirrors_fall_through_to_a_good_one() {
    let (data, spec) = fixture();
    let mut bad = data.clone();
    bad[100] ^= 0xff;
    let srv = serve(routes(vec![
        ("/bad/f.gz", Serve::Corrupt(bad)),
        ("/good/f.gz", Serve::Good(data.clone())),
    ]));
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("f.gz");
    let urls = [
        format!("{}/gone/f.gz", srv.base),
        format!("{}/bad/f.gz", srv.base),
        format!("{}/good/f.gz", srv.base),
    ];
    fetch(&urls, &dest, &spec, &quick()).unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), data);
    let log = srv.log.lock().unwrap().clone();
    let paths: Vec<&str> = log.iter().map(|(p, _)| p.as_str()).collect();
    // 404: no retry; checksum mismatch of a fresh download: no retry either.
    assert_eq!(paths, vec!["/gone/f.gz", "/bad/f.gz", "/good/f.gz"]);
}

#[test]
fn corrupted_and_truncated_everywhere_fails_clearly_without_partial_files() {
    let (data, spec) = fixture();
    let mut bad = data.clone();
    bad[7] ^= 1;
    let srv = serve(routes(vec![
        ("/bad/f.gz", Serve::Corrupt(bad)),
        ("/short/f.gz", Serve::Truncated(data[..1000].to_vec())),
    ]));
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("f.gz");
    let urls = [
        format!("{}/bad/f.gz", srv.base),
        format!("{}/short/f.gz", srv.base),
    ];
    let err = fetch(&urls, &dest, &spec, &quick())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("f.gz") && err.contains("failed on every mirror"),
        "{err}"
    );
    assert_eq!(err.matches("checksum mismatch").count(), 2, "{err}");
    assert!(err.contains(&spec.sha256), "{err}");
    assert!(!dest.exists(), "a file was left under the final name");
    assert!(!part_path(&dest).exists(), "a mismatching .part was kept");
}

#[test]
fn resumes_a_partial_file_with_range() {
    let (data, spec) = fixture();
    let srv = serve(routes(vec![("/a/f.gz", Serve::Good(data.clone()))]));
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("f.gz");
    std::fs::write(part_path(&dest), &data[..12_345]).unwrap();
    fetch(&[format!("{}/a/f.gz", srv.base)], &dest, &spec, &quick()).unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), data);
    let log = srv.log.lock().unwrap().clone();
    assert_eq!(
        log,
        vec![("/a/f.gz".to_string(), Some("bytes=12345-".to_string()))]
    );
}

#[test]
fn broken_transfer_is_retried_and_resumed() {
    let (data, spec) = fixture();
    let srv = serve(routes(vec![(
        "/a/f.gz",
        Serve::CutOnce(data.clone(), 20_000),
    )]));
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("f.gz");
    fetch(&[format!("{}/a/f.gz", srv.base)], &dest, &spec, &quick()).unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), data);
    let log = srv.log.lock().unwrap().clone();
    assert_eq!(log.len(), 2, "{log:?}");
    assert_eq!(log[0].1, None);
    assert_eq!(log[1].1.as_deref(), Some("bytes=20000-"));
}

#[test]
fn spoiled_part_is_discarded_and_downloaded_again() {
    let (data, spec) = fixture();
    let srv = serve(routes(vec![("/a/f.gz", Serve::Good(data.clone()))]));
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("f.gz");
    std::fs::write(part_path(&dest), vec![0xAB; 3000]).unwrap(); // not a prefix of the file
    fetch(&[format!("{}/a/f.gz", srv.base)], &dest, &spec, &quick()).unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), data);
    let log = srv.log.lock().unwrap().clone();
    assert_eq!(
        log.iter().map(|(_, r)| r.clone()).collect::<Vec<_>>(),
        vec![Some("bytes=3000-".to_string()), None]
    );
}

fn tiny_spec(base: Option<&str>, system: Option<&Path>) -> (DatasetSpec, Vec<u8>, Vec<u8>) {
    let a = b"first file".to_vec();
    let b = super::super::idx::gzip_bytes(b"second file").unwrap();
    let spec = DatasetSpec {
        name: "tiny".into(),
        files: vec![
            FileSpec {
                name: "a.bin".into(),
                sha256: sha256_hex(&a),
                raw_sha256: None,
            },
            // published as gzip; verified also by its content
            FileSpec {
                name: "b.gz".into(),
                sha256: "00".repeat(32),
                raw_sha256: Some(sha256_hex(b"second file")),
            },
        ],
        archive: None,
        mirrors: base.map(|b| vec![format!("{b}/m/")]).unwrap_or_default(),
        system_dirs: system.map(|p| vec![p.to_path_buf()]).unwrap_or_default(),
        hint: "install the tiny package".into(),
    };
    (spec, a, b)
}

#[test]
fn ensure_uses_from_dir_and_system_copies_before_the_network() {
    let from = tempfile::tempdir().unwrap();
    let sys = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    let (spec, a, b) = tiny_spec(None, Some(sys.path()));
    std::fs::write(from.path().join("a.bin"), &a).unwrap();
    // The system copy is recompressed differently but has the right content.
    let b_other = {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(b"second file").unwrap();
        e.finish().unwrap()
    };
    assert_ne!(b_other, b);
    std::fs::write(sys.path().join("b.gz"), &b_other).unwrap();
    let opts = DownloadOptions {
        from: Some(from.path().to_path_buf()),
        use_system: true,
        network: false,
        ..quick()
    };
    let dir = ensure(&spec, root.path(), &opts).unwrap();
    assert_eq!(std::fs::read(dir.join("a.bin")).unwrap(), a);
    assert_eq!(std::fs::read(dir.join("b.gz")).unwrap(), b_other);

    // A wrong file in --from is refused by name.
    let root2 = tempfile::tempdir().unwrap();
    std::fs::write(from.path().join("a.bin"), b"tampered").unwrap();
    let err = ensure(&spec, root2.path(), &opts).unwrap_err().to_string();
    assert!(
        err.contains("a.bin") && err.contains("checksum mismatch"),
        "{err}"
    );

    // Nothing anywhere and no network: the error says how to get it, with the hint.
    let (spec, _, _) = tiny_spec(None, None);
    let opts = DownloadOptions {
        network: false,
        ..quick()
    };
    let err = ensure(&spec, root2.path(), &opts).unwrap_err().to_string();
    assert!(
        err.contains("cargo xtask download tiny") && err.contains("install the tiny package"),
        "{err}"
    );
}

#[test]
fn ensure_downloads_missing_files_from_mirrors() {
    let (spec0, a, b) = tiny_spec(None, None);
    let srv = serve(routes(vec![
        ("/m/a.bin", Serve::Good(a.clone())),
        ("/m/b.gz", Serve::Good(b.clone())),
    ]));
    let (spec, _, _) = tiny_spec(Some(&srv.base), None);
    assert_eq!(spec.files[0].sha256, spec0.files[0].sha256);
    let root = tempfile::tempdir().unwrap();
    // b.gz's published sum is unknown to the test ("00.."), so fetch fails it; a.bin succeeds.
    let err = ensure(&spec, root.path(), &quick())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("b.gz") && err.contains("hint: install the tiny package"),
        "{err}"
    );
    assert_eq!(std::fs::read(root.path().join("tiny/a.bin")).unwrap(), a);
    assert!(!root.path().join("tiny/b.gz").exists());
}

/// Debian's `dataset-fashion-mnist`, when installed, verifies against the recorded sums.
#[test]
fn debian_fashion_mnist_copies_verify_when_installed() {
    let spec = spec("fashion-mnist").unwrap();
    let dir = &spec.system_dirs[0];
    assert_eq!(dir, Path::new("/usr/share/datasets/fashion-mnist"));
    assert!(spec.hint.contains("apt-get install dataset-fashion-mnist"));
    if dir.join("t10k-labels-idx1-ubyte.gz").exists() {
        for file in &spec.files {
            verify_file(&dir.join(&file.name), file).unwrap();
        }
    }
    // Every spec names 64-hex-digit sums.
    for name in DOWNLOADABLE {
        let s = spec_all(name);
        assert!(
            s.iter()
                .all(|h| h.len() == 64 && h.chars().all(|c| c.is_ascii_hexdigit())),
            "{name}"
        );
    }
}

fn spec_all(name: &str) -> Vec<String> {
    let s = spec(name).unwrap();
    let mut v: Vec<String> = s.files.iter().map(|f| f.sha256.clone()).collect();
    v.extend(s.files.iter().filter_map(|f| f.raw_sha256.clone()));
    v.extend(s.archive.iter().map(|f| f.sha256.clone()));
    v
}

#[test]
fn download_by_name_refuses_unknown_and_shipped_names() {
    let root = tempfile::tempdir().unwrap();
    let e = download("imagenet", root.path(), &quick())
        .unwrap_err()
        .to_string();
    assert!(e.contains("imagenet") && e.contains("fashion-mnist"), "{e}");
    let e = download("mnist10k", root.path(), &quick())
        .unwrap_err()
        .to_string();
    assert!(e.contains("ships with the repository"), "{e}");
    // Offline with nothing local: the error says so and names the files.
    let opts = DownloadOptions {
        network: false,
        ..quick()
    };
    let e = download("mnist", root.path(), &opts)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("train-images-idx3-ubyte.gz") && e.contains("network is off"),
        "{e}"
    );
}
