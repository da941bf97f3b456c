//! PDF text, page by page, through `pdf-extract` (pure Rust, on `lopdf`). A PDF is
//! untrusted input and the parser can panic on a malformed file, so extraction runs
//! under `catch_unwind` in a blocking task with a time limit; every failure is a typed
//! [`PdfError`], which the admin API answers with 400 `invalid_pdf`. Scanned PDFs (images
//! only) have no text to extract and are refused as such rather than stored empty.
//! Pages come back joined by form feeds, which the chunker (`chunk.rs`) cuts at.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

/// Largest PDF accepted, in bytes.
pub const MAX_PDF_BYTES: usize = 10 * 1024 * 1024;
/// Longest extraction allowed.
const EXTRACT_TIMEOUT: Duration = Duration::from_secs(20);

/// Why a PDF was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PdfError {
    #[error("a PDF is at most {MAX_PDF_BYTES} bytes")]
    TooLarge,
    #[error("the PDF could not be read: {0}")]
    Unreadable(String),
    #[error("the PDF has no text to extract (a scanned document needs OCR first)")]
    NoText,
}

/// The text of `bytes`, a PDF: its pages joined by form feeds (`\u{c}`).
pub async fn text(bytes: Vec<u8>) -> Result<String, PdfError> {
    if bytes.len() > MAX_PDF_BYTES {
        return Err(PdfError::TooLarge);
    }
    if !bytes.starts_with(b"%PDF-") {
        return Err(PdfError::Unreadable(
            "it does not start with `%PDF-`".into(),
        ));
    }
    let extraction = tokio::task::spawn_blocking(move || extract(&bytes));
    match tokio::time::timeout(EXTRACT_TIMEOUT, extraction).await {
        Ok(Ok(result)) => result,
        Ok(Err(_)) => Err(PdfError::Unreadable("the extraction failed".into())),
        Err(_) => Err(PdfError::Unreadable(format!(
            "the extraction took over {} s",
            EXTRACT_TIMEOUT.as_secs()
        ))),
    }
}

fn extract(bytes: &[u8]) -> Result<String, PdfError> {
    let pages = match catch_unwind(AssertUnwindSafe(|| {
        pdf_extract::extract_text_from_mem_by_pages(bytes)
    })) {
        Ok(Ok(pages)) => pages,
        Ok(Err(error)) => return Err(PdfError::Unreadable(error.to_string())),
        Err(_) => {
            return Err(PdfError::Unreadable(
                "the file is malformed (the parser gave up)".into(),
            ));
        }
    };
    let pages: Vec<String> = pages
        .into_iter()
        .map(|page| page.replace('\u{c}', "\n").replace('\0', ""))
        .collect();
    if pages.iter().all(|p| p.trim().is_empty()) {
        return Err(PdfError::NoText);
    }
    Ok(pages.join("\u{c}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `tests/fixtures/knowledge/policy.pdf`, made by `scripts/make-test-pdf.py`.
    const POLICY: &[u8] = include_bytes!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/knowledge/policy.pdf"
    ));

    #[tokio::test]
    async fn pages_come_back_in_order() {
        let text = text(POLICY.to_vec()).await.expect("readable");
        let pages: Vec<&str> = text.split('\u{c}').collect();
        assert_eq!(pages.len(), 2, "{text:?}");
        assert!(pages[0].contains("Returns within 30 days"), "{text:?}");
        assert!(pages[1].contains("two year warranty"), "{text:?}");
    }

    #[tokio::test]
    async fn broken_files_are_refused_not_panicked_on() {
        assert!(matches!(
            text(b"hello".to_vec()).await,
            Err(PdfError::Unreadable(_))
        ));
        let truncated = POLICY[..POLICY.len() / 2].to_vec();
        assert!(matches!(
            text(truncated).await,
            Err(PdfError::Unreadable(_) | PdfError::NoText)
        ));
        let mut garbled = POLICY.to_vec();
        for byte in garbled.iter_mut().skip(200).step_by(7) {
            *byte = b'#';
        }
        // Whatever the parser makes of it, the answer is text or a typed error.
        let _ = text(garbled).await;
        assert_eq!(
            text(vec![b'%'; MAX_PDF_BYTES + 1]).await,
            Err(PdfError::TooLarge)
        );
    }
}
