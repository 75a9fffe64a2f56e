//! The IDX file format of MNIST (LeCun et al. 1998, <http://yann.lecun.com/exdb/mnist/>), raw or
//! gzip-compressed: a reader that validates everything and a deterministic writer.
//!
//! Layout: bytes 0-1 are zero, byte 2 the element type (0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32,
//! 0x0D f32, 0x0E f64), byte 3 the number of dimensions; then one big-endian u32 per dimension,
//! then the elements, big-endian, row-major. The reader checks the magic, the type code, the
//! number of dimensions, that the declared size neither overflows nor exceeds a cap, and that the
//! bytes present are exactly the declared size (no truncation, no trailing bytes). Every error is
//! a [`CoreError::Format`] naming the file and the problem; the reader never panics (a fuzz target
//! in `fuzz/` and a corpus replay test check this).
use std::io::{Read, Write};
use std::path::Path;

use tch::{Kind, Tensor};

use genzoo_core::{CoreError, Result};

/// Largest payload the reader accepts (4 GiB): a guard against absurd declared sizes.
pub const MAX_PAYLOAD_BYTES: u64 = 1 << 32;
/// Largest number of dimensions the reader accepts.
pub const MAX_DIMS: usize = 8;

/// Element type of an IDX file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdxDtype {
    U8,
    I8,
    I16,
    I32,
    F32,
    F64,
}

impl IdxDtype {
    /// From the type byte of the header.
    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0x08 => IdxDtype::U8,
            0x09 => IdxDtype::I8,
            0x0B => IdxDtype::I16,
            0x0C => IdxDtype::I32,
            0x0D => IdxDtype::F32,
            0x0E => IdxDtype::F64,
            _ => return None,
        })
    }
    /// The type byte of the header.
    pub fn code(self) -> u8 {
        match self {
            IdxDtype::U8 => 0x08,
            IdxDtype::I8 => 0x09,
            IdxDtype::I16 => 0x0B,
            IdxDtype::I32 => 0x0C,
            IdxDtype::F32 => 0x0D,
            IdxDtype::F64 => 0x0E,
        }
    }
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            IdxDtype::U8 | IdxDtype::I8 => 1,
            IdxDtype::I16 => 2,
            IdxDtype::I32 | IdxDtype::F32 => 4,
            IdxDtype::F64 => 8,
        }
    }
}

/// A parsed IDX array: its type, dimensions and the element bytes (big-endian, as in the file).
#[derive(Clone, Debug, PartialEq)]
pub struct IdxArray {
    pub dtype: IdxDtype,
    pub dims: Vec<usize>,
    /// `prod(dims) * dtype.size()` bytes.
    pub data: Vec<u8>,
}

impl IdxArray {
    /// A `u8` array; fails when `data.len() != prod(dims)`.
    ///
    /// # Errors
    /// [`CoreError::Invalid`] when `data.len()` differs from the product of `dims`.
    pub fn from_u8(dims: Vec<usize>, data: Vec<u8>) -> Result<Self> {
        let n: usize = dims.iter().product();
        if n != data.len() {
            return Err(CoreError::Invalid(format!(
                "IDX array: dims {dims:?} hold {n} elements, got {}",
                data.len()
            )));
        }
        Ok(IdxArray {
            dtype: IdxDtype::U8,
            dims,
            data,
        })
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.dims.iter().product()
    }

    /// True when the array has no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The array as a CPU tensor of shape `dims`: u8 -> Uint8, i8 -> Int8, i16/i32 -> Int,
    /// f32 -> Float, f64 -> Double.
    ///
    /// # Errors
    /// A libtorch error when the element count does not match `dims` (an array not built by
    /// [`parse_idx`] or [`IdxArray::from_u8`]).
    pub fn to_tensor(&self) -> Result<Tensor> {
        let shape: Vec<i64> = self.dims.iter().map(|&d| d as i64).collect();
        let t = match self.dtype {
            IdxDtype::U8 => Tensor::from_slice(&self.data),
            IdxDtype::I8 => {
                Tensor::from_slice(&self.data.iter().map(|&b| b as i8).collect::<Vec<_>>())
            }
            IdxDtype::I16 => Tensor::from_slice(
                &self
                    .data
                    .chunks_exact(2)
                    .map(|c| i32::from(i16::from_be_bytes([c[0], c[1]])))
                    .collect::<Vec<_>>(),
            ),
            IdxDtype::I32 => Tensor::from_slice(
                &self
                    .data
                    .chunks_exact(4)
                    .map(|c| i32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                    .collect::<Vec<_>>(),
            ),
            IdxDtype::F32 => Tensor::from_slice(
                &self
                    .data
                    .chunks_exact(4)
                    .map(|c| f32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                    .collect::<Vec<_>>(),
            ),
            IdxDtype::F64 => Tensor::from_slice(
                &self
                    .data
                    .chunks_exact(8)
                    .map(|c| f64::from_be_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
                    .collect::<Vec<_>>(),
            ),
        };
        Ok(t.f_reshape(shape)?)
    }

    /// A `u8` array from a `Uint8` tensor (any device).
    ///
    /// # Errors
    /// [`CoreError::Shape`] (`idx`) when `t` is not a `Uint8` tensor; a libtorch error when it
    /// cannot be copied to the CPU.
    pub fn from_u8_tensor(t: &Tensor) -> Result<Self> {
        if t.kind() != Kind::Uint8 {
            return Err(CoreError::shape(
                "idx",
                format!("expected a Uint8 tensor, got {:?}", t.kind()),
            ));
        }
        let dims: Vec<usize> = t.size().iter().map(|&d| d as usize).collect();
        let flat = t.to_device(tch::Device::Cpu).contiguous().view([-1]);
        let data: Vec<u8> = Vec::<u8>::try_from(&flat)?;
        IdxArray::from_u8(dims, data)
    }

    /// The file bytes (header + data), uncompressed.
    ///
    /// # Errors
    /// [`CoreError::Invalid`] when the array has no dimensions or more than the IDX maximum, when
    /// its data length does not match `dims` and its element type, or when a dimension exceeds
    /// `u32`.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        if self.dims.is_empty() || self.dims.len() > MAX_DIMS {
            return Err(CoreError::Invalid(format!(
                "IDX array: {} dimensions (1..={MAX_DIMS} allowed)",
                self.dims.len()
            )));
        }
        if self.data.len() != self.len() * self.dtype.size() {
            return Err(CoreError::Invalid(format!(
                "IDX array: dims {:?} of {:?} need {} bytes, got {}",
                self.dims,
                self.dtype,
                self.len() * self.dtype.size(),
                self.data.len()
            )));
        }
        let mut out = Vec::with_capacity(4 + 4 * self.dims.len() + self.data.len());
        out.extend_from_slice(&[0, 0, self.dtype.code(), self.dims.len() as u8]);
        for &d in &self.dims {
            let d = u32::try_from(d)
                .map_err(|_| CoreError::Invalid(format!("IDX dimension {d} exceeds u32")))?;
            out.extend_from_slice(&d.to_be_bytes());
        }
        out.extend_from_slice(&self.data);
        Ok(out)
    }
}

/// True when `bytes` start with the gzip magic.
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.len() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b
}

/// Reads and validates an IDX file, raw or gzip (detected from its first bytes, not its name).
///
/// # Errors
/// [`CoreError::Io`] when `path` cannot be read; [`CoreError::Format`] naming `path` when it is not
/// an IDX file (see [`parse_idx`]).
pub fn read_idx(path: &Path) -> Result<IdxArray> {
    let bytes = std::fs::read(path).map_err(|e| CoreError::io(path, e))?;
    parse_idx(&bytes, path)
}

/// Parses IDX bytes (raw or gzip). `path` only names the source in errors.
///
/// # Errors
/// [`CoreError::Format`] naming `path` (and whether it was gzip) when the bytes are not valid gzip,
/// the header is truncated, the magic number's first two bytes are not zero, the element type code
/// is unknown, the dimension count is 0 or too large, the declared size exceeds the payload limit,
/// or the data is truncated or followed by trailing bytes.
pub fn parse_idx(bytes: &[u8], path: &Path) -> Result<IdxArray> {
    if is_gzip(bytes) {
        let mut dec = flate2::read::GzDecoder::new(bytes);
        parse_stream(&mut dec, path, true)
    } else {
        parse_stream(&mut &bytes[..], path, false)
    }
}

fn fmt_err(path: &Path, gz: bool, msg: impl std::fmt::Display) -> CoreError {
    let what = if gz { "gzip IDX file" } else { "IDX file" };
    CoreError::format(path, format!("{what}: {msg}"))
}

/// Fills `buf` completely, or says how many bytes were there.
fn read_full(r: &mut dyn Read, buf: &mut [u8], path: &Path, gz: bool, what: &str) -> Result<()> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => {
                return Err(fmt_err(
                    path,
                    gz,
                    format!("truncated {what}: {got} of {} bytes present", buf.len()),
                ));
            }
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(fmt_err(path, gz, format!("cannot decode {what}: {e}"))),
        }
    }
    Ok(())
}

fn parse_stream(r: &mut dyn Read, path: &Path, gz: bool) -> Result<IdxArray> {
    let mut head = [0u8; 4];
    read_full(r, &mut head, path, gz, "header")?;
    if head[0] != 0 || head[1] != 0 {
        return Err(fmt_err(
            path,
            gz,
            format!(
                "bad magic number {:02x}{:02x}{:02x}{:02x}: the first two bytes must be zero",
                head[0], head[1], head[2], head[3]
            ),
        ));
    }
    let dtype = IdxDtype::from_code(head[2]).ok_or_else(|| {
        fmt_err(
            path,
            gz,
            format!(
                "unknown element type code 0x{:02x} (expected 08, 09, 0B, 0C, 0D or 0E)",
                head[2]
            ),
        )
    })?;
    let ndims = head[3] as usize;
    if ndims == 0 || ndims > MAX_DIMS {
        return Err(fmt_err(
            path,
            gz,
            format!("{ndims} dimensions declared (1..={MAX_DIMS} allowed)"),
        ));
    }
    let mut dim_bytes = vec![0u8; 4 * ndims];
    read_full(r, &mut dim_bytes, path, gz, "dimension list")?;
    let dims: Vec<usize> = dim_bytes
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    let mut total: u64 = dtype.size() as u64;
    for &d in &dims {
        total = total
            .checked_mul(d as u64)
            .filter(|&t| t <= MAX_PAYLOAD_BYTES)
            .ok_or_else(|| {
                fmt_err(
                    path,
                    gz,
                    format!("declared dims {dims:?} exceed {MAX_PAYLOAD_BYTES} bytes"),
                )
            })?;
    }
    // Read at most one byte past the declared size: no allocation follows the declared size
    // before the bytes are actually there.
    let mut data = Vec::new();
    let mut limited = r.take(total + 1);
    if let Err(e) = limited.read_to_end(&mut data) {
        return Err(fmt_err(path, gz, format!("cannot decode data: {e}")));
    }
    let got = data.len() as u64;
    if got < total {
        return Err(fmt_err(
            path,
            gz,
            format!("truncated: dims {dims:?} of {dtype:?} declare {total} data bytes, only {got} present"),
        ));
    }
    if got > total {
        return Err(fmt_err(
            path,
            gz,
            format!("trailing bytes after the {total} data bytes that dims {dims:?} declare"),
        ));
    }
    Ok(IdxArray { dtype, dims, data })
}

/// Writes `arr` to `path`, gzip-compressed (deterministic: mtime 0, no file name) when `gzip`;
/// atomically (`genzoo_core::io::write_atomic`: a temporary file in the same directory, then a
/// rename).
///
/// # Errors
/// [`CoreError::Invalid`] when `arr` cannot be encoded (see [`IdxArray::to_bytes`]);
/// [`CoreError::Io`] naming `path` (or its temporary file) when compression or the atomic write
/// fails.
pub fn write_idx(path: &Path, arr: &IdxArray, gzip: bool) -> Result<()> {
    let raw = arr.to_bytes()?;
    let bytes = if gzip {
        gzip_bytes(&raw).map_err(|e| CoreError::io(path, e))?
    } else {
        raw
    };
    genzoo_core::io::write_atomic(path, &bytes)
}

/// Deterministic gzip of `raw` (mtime 0, no file name, best compression).
///
/// # Errors
/// An I/O error from the gzip encoder (writing to memory; not expected in practice).
pub fn gzip_bytes(raw: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut enc = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::best());
    enc.write_all(raw)?;
    enc.finish()
}

/// Reads an image file: 3-D `[n, h, w]` (one channel) or 4-D `[n, h, w, c]` / `[n, c, h, w]`
/// with c in {1, 3} (the last dimension is tried first). Returns `u8 [n, c, h, w]`.
///
/// # Errors
/// [`CoreError::Io`] when `path` cannot be read; [`CoreError::Format`] naming `path` when it is not
/// an IDX file or not an image file (see [`images_from`]).
pub fn read_images(path: &Path) -> Result<Tensor> {
    let arr = read_idx(path)?;
    images_from(&arr, path)
}

/// Converts a parsed array to `u8 [n, c, h, w]` (see [`read_images`]).
///
/// # Errors
/// [`CoreError::Format`] naming `path` when the elements are not unsigned bytes or the dims are not
/// `[n, h, w]`, `[n, h, w, c]` or `[n, c, h, w]` with c = 1 or 3; a libtorch error.
pub fn images_from(arr: &IdxArray, path: &Path) -> Result<Tensor> {
    if arr.dtype != IdxDtype::U8 {
        return Err(CoreError::format(
            path,
            format!(
                "images must be unsigned bytes (type 0x08), found {:?}",
                arr.dtype
            ),
        ));
    }
    let d: Vec<i64> = arr.dims.iter().map(|&x| x as i64).collect();
    let t = arr.to_tensor()?;
    match d.len() {
        3 => Ok(t.unsqueeze(1)),
        4 if d[3] == 1 || d[3] == 3 => Ok(t.permute([0, 3, 1, 2]).contiguous()),
        4 if d[1] == 1 || d[1] == 3 => Ok(t),
        _ => Err(CoreError::format(
            path,
            format!(
                "image dims {:?}: expected [n, h, w], [n, h, w, c] or [n, c, h, w] with c = 1 or 3",
                arr.dims
            ),
        )),
    }
}

/// Reads a label file: 1-D, unsigned bytes or i32, returned as `i64 [n]`.
///
/// # Errors
/// [`CoreError::Io`] when `path` cannot be read; [`CoreError::Format`] naming `path` when it is not
/// an IDX file, is not 1-D, holds non-integer elements or a negative label.
pub fn read_labels(path: &Path) -> Result<Tensor> {
    let arr = read_idx(path)?;
    if arr.dims.len() != 1 {
        return Err(CoreError::format(
            path,
            format!("labels must be 1-D, found dims {:?}", arr.dims),
        ));
    }
    match arr.dtype {
        IdxDtype::U8 | IdxDtype::I8 | IdxDtype::I16 | IdxDtype::I32 => {}
        other => {
            return Err(CoreError::format(
                path,
                format!("labels must be integers, found {other:?}"),
            ))
        }
    }
    let y = arr.to_tensor()?.to_kind(Kind::Int64);
    if !arr.is_empty() && y.min().int64_value(&[]) < 0 {
        return Err(CoreError::format(path, "negative label"));
    }
    Ok(y)
}

#[cfg(test)]
#[path = "idx_tests.rs"]
mod tests;
