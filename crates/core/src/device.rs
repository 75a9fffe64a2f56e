//! Device choice: CUDA when available, overridable by a flag or the `GENZOO_DEVICE` environment
//! variable (`cpu`, `cuda`, `cuda:N`, `auto`).
use crate::{CoreError, Result};
use tch::Device;

/// The environment variable that forces a device when no flag is given.
pub const DEVICE_ENV: &str = "GENZOO_DEVICE";

/// Parses a device name: `auto`, `cpu`, `cuda` (= `cuda:0`) or `cuda:N`.
///
/// # Errors
/// [`CoreError::Invalid`] naming `spec` when it is none of `auto`, `cpu`, `cuda`/`gpu`, `cuda:N`,
/// when `N` is not a number, or when CUDA device `N` is not visible to libtorch.
pub fn parse_device(spec: &str) -> Result<Device> {
    let s = spec.trim().to_ascii_lowercase();
    let dev = match s.as_str() {
        "auto" => Device::cuda_if_available(),
        "cpu" => Device::Cpu,
        "cuda" | "gpu" => Device::Cuda(0),
        _ => match s.strip_prefix("cuda:") {
            Some(n) => Device::Cuda(n.parse().map_err(|_| {
                CoreError::Invalid(format!("device `{spec}`: `{n}` is not a GPU index"))
            })?),
            None => {
                return Err(CoreError::Invalid(format!(
                    "device `{spec}`: expected auto, cpu, cuda or cuda:N"
                )))
            }
        },
    };
    if let Device::Cuda(i) = dev {
        let n = tch::Cuda::device_count();
        if i as i64 >= n {
            return Err(CoreError::Invalid(format!(
                "device `{spec}`: this machine has {n} CUDA device(s) visible to libtorch"
            )));
        }
    }
    Ok(dev)
}

/// The device to run on: the flag if given, else `GENZOO_DEVICE`, else CUDA if available.
///
/// # Errors
/// [`CoreError::Invalid`] when the flag, or else a non-empty `GENZOO_DEVICE`, is not a valid device
/// name or names a CUDA device this machine does not have (see [`parse_device`]).
pub fn select_device(flag: Option<&str>) -> Result<Device> {
    match flag {
        Some(f) => parse_device(f),
        None => match std::env::var(DEVICE_ENV) {
            Ok(v) if !v.trim().is_empty() => parse_device(&v),
            _ => Ok(Device::cuda_if_available()),
        },
    }
}

/// A short name for a device (`cpu`, `cuda:0`).
pub fn device_name(d: Device) -> String {
    match d {
        Device::Cpu => "cpu".into(),
        Device::Cuda(i) => format!("cuda:{i}"),
        other => format!("{other:?}").to_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names() {
        assert_eq!(parse_device("cpu").unwrap(), Device::Cpu);
        assert_eq!(parse_device(" CPU ").unwrap(), Device::Cpu);
        assert!(parse_device("tpu").unwrap_err().to_string().contains("tpu"));
        assert!(parse_device("cuda:x").is_err());
        if !tch::Cuda::is_available() {
            assert_eq!(parse_device("auto").unwrap(), Device::Cpu);
            assert!(parse_device("cuda")
                .unwrap_err()
                .to_string()
                .contains("0 CUDA"));
        }
    }
}
