//! The crate's one error type.

/// Everything that can go wrong while reading, checking, changing or writing image bytes.
///
/// Bad input is always an error value, never a panic: the messages are written for the person
/// at the counter or the operator at the lab ("image is 100000x100000 pixels, over the limit
/// ..."), and the variants let a service map them to its own status codes (all but
/// [`MediaError::Io`] and [`MediaError::Encode`] are the client's fault).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MediaError {
    /// The bytes are not a JPEG, PNG, WebP or TIFF file, whatever the file is called.
    #[error("not a supported image (JPEG, PNG, WebP or TIFF); the file starts with {0}")]
    UnknownFormat(String),
    /// The format is recognised but this operation does not handle it.
    #[error("{operation} is not supported for {format} images")]
    Unsupported {
        /// The format found.
        format: &'static str,
        /// What was asked.
        operation: &'static str,
    },
    /// The file is larger than the limit.
    #[error("file is {size} bytes, over the limit of {limit} bytes")]
    TooManyBytes {
        /// Size of the input.
        size: u64,
        /// The limit in force.
        limit: u64,
    },
    /// The header declares a width or height over the limit.
    #[error("image is {width}x{height} pixels, over the limit of {max_width}x{max_height}")]
    TooLarge {
        /// Declared width.
        width: u32,
        /// Declared height.
        height: u32,
        /// Width limit.
        max_width: u32,
        /// Height limit.
        max_height: u32,
    },
    /// The header declares more pixels in total than the limit.
    #[error("image has {pixels} pixels, over the limit of {limit}")]
    TooManyPixels {
        /// Declared width times height.
        pixels: u64,
        /// The limit in force.
        limit: u64,
    },
    /// The decoded pixels (width x height x channels x bytes per sample, read from the header)
    /// would take more memory than the limit: refused before anything is allocated.
    #[error(
        "the image ({width}x{height} pixels) would take {} to open; the limit is {}",
        human_bytes(*needed),
        human_bytes(*limit)
    )]
    TooMuchMemory {
        /// Declared width.
        width: u32,
        /// Declared height.
        height: u32,
        /// Bytes the decoded pixels would take.
        needed: u64,
        /// The limit in force ([`crate::Limits::max_decoded_bytes`]).
        limit: u64,
    },
    /// The compressed picture data is damaged (the decoder met bad codes, a marker where data
    /// should be, or ran out of data before the last row): printed, it would come out garbled.
    #[error("the picture data is damaged ({0}); it would print garbled")]
    Corrupt(String),
    /// The file ends before its format says it should.
    #[error("image file is truncated: {0}")]
    Truncated(String),
    /// The file's structure is broken (bad marker, bad chunk CRC, zero size, ...).
    #[error("image file is malformed: {0}")]
    Malformed(String),
    /// The pixel decoder refused the data.
    #[error("image could not be decoded: {0}")]
    Decode(String),
    /// Writing the output image failed.
    #[error("image could not be encoded: {0}")]
    Encode(String),
    /// An ICC profile could not be read or used.
    #[error("ICC profile unusable: {0}")]
    Icc(String),
    /// The embedded print history is present but unreadable, or a record is invalid.
    #[error("print history invalid: {0}")]
    History(String),
    /// The XMP packet does not fit into one JPEG APP1 segment.
    #[error("XMP packet of {0} bytes does not fit into one JPEG segment (65504 bytes at most)")]
    XmpTooLarge(usize),
    /// The ZIP container is broken or does not hold what it should.
    #[error("ZIP container: {0}")]
    Container(String),
    /// A DPOF file (`AUTPRINT.MRK`) could not be parsed, or a ticket could not be written.
    #[error("DPOF line {line}: {message}")]
    Dpof {
        /// 1-based line number (0 when the problem is not tied to one line).
        line: usize,
        /// What is wrong there.
        message: String,
    },
    /// An edit list holds a value out of range.
    #[error("invalid edit: {0}")]
    Edit(String),
    /// A print specification is impossible (zero size, absurd dpi, ...).
    #[error("invalid print specification: {0}")]
    PrintSpec(String),
    /// Reading or writing a stream failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// Bytes for people: "1.2 GB", "168 MB", "900 KB" (decimal units, as disks are sold).
pub fn human_bytes(n: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1_000_000_000, "GB"), (1_000_000, "MB"), (1_000, "KB")];
    for (size, unit) in UNITS {
        if n >= size {
            let v = n as f64 / size as f64;
            return if v < 10.0 {
                format!("{v:.1} {unit}")
            } else {
                format!("{v:.0} {unit}")
            };
        }
    }
    format!("{n} bytes")
}

/// Shorthand for results of this crate.
pub type Result<T, E = MediaError> = std::result::Result<T, E>;

impl MediaError {
    pub(crate) fn dpof(line: usize, message: impl Into<String>) -> Self {
        MediaError::Dpof {
            line,
            message: message.into(),
        }
    }
}

impl From<image::ImageError> for MediaError {
    fn from(e: image::ImageError) -> Self {
        use image::ImageError as E;
        match e {
            E::Limits(l) => MediaError::Decode(format!("decoder limit reached: {l}")),
            E::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
                MediaError::Truncated(io.to_string())
            }
            E::Encoding(e) => MediaError::Encode(e.to_string()),
            other => MediaError::Decode(other.to_string()),
        }
    }
}
