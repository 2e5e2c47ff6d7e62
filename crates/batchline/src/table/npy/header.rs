//! The `.npy` header: the magic string, the version and the dict (`descr`, `fortran_order`,
//! `shape`), parsed and checked against the length of the file.

use std::path::Path;

use arrow_schema::DataType;

use super::super::TableError;

/// The first bytes of every `.npy` array.
pub(super) const MAGIC: &[u8; 6] = b"\x93NUMPY";

/// The parsed header of an array.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Header {
    pub(super) dtype: DataType,
    pub(super) itemsize: usize,
    pub(super) shape: Vec<usize>,
    /// The offset of the first value in the file.
    pub(super) data_start: usize,
}

impl Header {
    /// The values of one row (the product of the shape after the first axis).
    pub(super) fn width(&self) -> usize {
        self.shape[1..].iter().product()
    }

    /// The bytes of one row.
    pub(super) fn row_bytes(&self) -> usize {
        self.width() * self.itemsize
    }
}

/// An error of the `.npy` format about `path`.
pub(super) fn npy_error(path: &Path, message: impl Into<String>) -> TableError {
    TableError::Npy {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// Checks the header of the array that starts at `offset` in `bytes` (a file, or an `.npz`
/// archive, mapped) and whose values may extend to `end`: the magic string, the version, the
/// dict, and that the values the shape declares are all there.
pub(super) fn parse_header(
    bytes: &[u8],
    path: &Path,
    offset: usize,
    end: usize,
) -> Result<Header, TableError> {
    let end = end.min(bytes.len());
    let available = end.saturating_sub(offset);
    if available < 10 {
        return Err(npy_error(path, "not a .npy array: the file is too short"));
    }
    let prefix = &bytes[offset..offset + available.min(12)];
    if &prefix[..6] != MAGIC {
        return Err(npy_error(
            path,
            "not a .npy array: the magic string is missing",
        ));
    }
    let (header_len, header_at) = match prefix[6] {
        1 => (u16::from_le_bytes([prefix[8], prefix[9]]) as usize, 10),
        2 | 3 if prefix.len() == 12 => (
            u32::from_le_bytes([prefix[8], prefix[9], prefix[10], prefix[11]]) as usize,
            12,
        ),
        v => {
            return Err(npy_error(
                path,
                format!("unsupported .npy format version {v}.{}", prefix[7]),
            ))
        }
    };
    let data_start = offset + header_at + header_len;
    if data_start > end {
        return Err(npy_error(
            path,
            format!("the header says it is {header_len} bytes long, past the end of the file"),
        ));
    }
    let text = String::from_utf8_lossy(&bytes[offset + header_at..data_start]);
    let (dtype, itemsize, shape) = parse_dict(&text).map_err(|m| npy_error(path, m))?;
    let header = Header {
        dtype,
        itemsize,
        shape,
        data_start,
    };
    let needed = header
        .shape
        .iter()
        .try_fold(itemsize, |n, &d| n.checked_mul(d));
    if needed.is_none_or(|needed| needed > end - data_start) {
        return Err(npy_error(
            path,
            format!(
                "truncated: shape {:?} needs {} bytes of values, the file holds {}",
                header.shape,
                needed.map_or("more than 2^64".to_string(), |n| n.to_string()),
                end - data_start
            ),
        ));
    }
    Ok(header)
}

/// The value of `key` in the header dict: the text after `'key':`.
fn value_of<'a>(dict: &'a str, key: &str) -> Result<&'a str, String> {
    let pattern = format!("'{key}':");
    let at = dict
        .find(&pattern)
        .ok_or_else(|| format!("wrong header: no {key:?} in {:?}", dict.trim()))?;
    Ok(dict[at + pattern.len()..].trim_start())
}

fn parse_dict(dict: &str) -> Result<(DataType, usize, Vec<usize>), String> {
    let descr = value_of(dict, "descr")?;
    let descr = descr
        .strip_prefix('\'')
        .and_then(|d| d.split_once('\''))
        .map(|(d, _)| d)
        .ok_or_else(|| {
            format!("unsupported dtype: only simple dtypes are read, not {descr:.40}")
        })?;
    let (dtype, itemsize) = dtype_of(descr)?;
    let fortran = value_of(dict, "fortran_order")?;
    let fortran = if fortran.starts_with("False") {
        false
    } else if fortran.starts_with("True") {
        true
    } else {
        return Err(format!("wrong header: fortran_order is {fortran:.10}"));
    };
    let shape = value_of(dict, "shape")?;
    let inner = shape
        .strip_prefix('(')
        .and_then(|s| s.split_once(')'))
        .map(|(s, _)| s)
        .ok_or_else(|| format!("wrong header: shape is {shape:.20}"))?;
    let shape = inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.trim_end_matches('L')
                .parse::<usize>()
                .map_err(|_| format!("wrong header: shape ({inner})"))
        })
        .collect::<Result<Vec<usize>, String>>()?;
    if shape.is_empty() {
        return Err("a 0-dimensional array holds no rows".to_string());
    }
    if fortran && shape.len() > 1 {
        return Err(
            "Fortran-ordered arrays are not supported (write it with numpy.ascontiguousarray)"
                .to_string(),
        );
    }
    Ok((dtype, itemsize, shape))
}

fn dtype_of(descr: &str) -> Result<(DataType, usize), String> {
    let unsupported = || {
        format!(
            "unsupported dtype {descr:?}: supported are little-endian f4, f8, i1-i8, u1-u8 and b1"
        )
    };
    let mut chars = descr.chars();
    let order = chars.next().ok_or_else(unsupported)?;
    let little = cfg!(target_endian = "little");
    match order {
        '<' if little => {}
        '|' => {}
        '=' => {}
        '>' if !little => {}
        _ => return Err(unsupported()),
    }
    let t = &descr[1..];
    Ok(match t {
        "f4" => (DataType::Float32, 4),
        "f8" => (DataType::Float64, 8),
        "i1" => (DataType::Int8, 1),
        "i2" => (DataType::Int16, 2),
        "i4" => (DataType::Int32, 4),
        "i8" => (DataType::Int64, 8),
        "u1" => (DataType::UInt8, 1),
        "u2" => (DataType::UInt16, 2),
        "u4" => (DataType::UInt32, 4),
        "u8" => (DataType::UInt64, 8),
        "b1" => (DataType::Boolean, 1),
        _ => return Err(unsupported()),
    })
}

/// The `.npy` type string of an Arrow type, when `.npy` can hold it.
pub(super) fn descr_of(dtype: &DataType) -> Option<&'static str> {
    Some(match dtype {
        DataType::Float32 => "<f4",
        DataType::Float64 => "<f8",
        DataType::Int8 => "|i1",
        DataType::Int16 => "<i2",
        DataType::Int32 => "<i4",
        DataType::Int64 => "<i8",
        DataType::UInt8 => "|u1",
        DataType::UInt16 => "<u2",
        DataType::UInt32 => "<u4",
        DataType::UInt64 => "<u8",
        DataType::Boolean => "|b1",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_headers() {
        let (dtype, size, shape) =
            parse_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }").unwrap();
        assert_eq!((dtype, size, shape), (DataType::Float32, 4, vec![3, 4]));
        let (_, _, shape) =
            parse_dict("{'descr': '|b1', 'fortran_order': False, 'shape': (7,), }").unwrap();
        assert_eq!(shape, vec![7]);
        for (bad, says) in [
            (
                "{'descr': '<c8', 'fortran_order': False, 'shape': (3,), }",
                "unsupported dtype",
            ),
            (
                "{'descr': '>f4', 'fortran_order': False, 'shape': (3,), }",
                "unsupported dtype",
            ),
            (
                "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (3,), }",
                "unsupported dtype",
            ),
            (
                "{'descr': '<f4', 'fortran_order': True, 'shape': (3, 2), }",
                "Fortran",
            ),
            (
                "{'descr': '<f4', 'fortran_order': False, 'shape': (), }",
                "0-dimensional",
            ),
            ("{'descr': '<f4', 'shape': (3,), }", "fortran_order"),
            (
                "{'descr': '<f4', 'fortran_order': False, 'shape': (x,), }",
                "shape",
            ),
        ] {
            let err = parse_dict(bad).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }
}
