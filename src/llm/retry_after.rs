//! `Retry-After` (RFC 9110 §10.2.3): delay-seconds or an HTTP date, as milliseconds from
//! now. Also reads the `retry-after-ms` header some providers send (OpenAI, Azure).

use std::time::SystemTime;

use reqwest::header::HeaderMap;

/// The wait a response asks for, if it asks for one that can be read.
pub(crate) fn parse(headers: &HeaderMap) -> Option<u64> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(ms) = text("retry-after-ms").and_then(|v| v.parse::<f64>().ok())
        && ms.is_finite()
        && ms >= 0.0
    {
        return Some(ms as u64);
    }
    let value = text("retry-after")?;
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(seconds.saturating_mul(1000));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(
        at.duration_since(SystemTime::now())
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn seconds_dates_and_milliseconds() {
        assert_eq!(parse(&headers(&[("retry-after", "2")])), Some(2000));
        assert_eq!(parse(&headers(&[("retry-after-ms", "150")])), Some(150));
        assert_eq!(
            parse(&headers(&[(
                "retry-after",
                "Wed, 21 Oct 2015 07:28:00 GMT"
            )])),
            Some(0)
        );
        let soon = httpdate::fmt_http_date(SystemTime::now() + std::time::Duration::from_secs(30));
        let ms = parse(&headers(&[("retry-after", &soon)])).unwrap();
        assert!((28_000..=30_000).contains(&ms), "{ms}");
        assert_eq!(parse(&headers(&[("retry-after", "soon")])), None);
        assert_eq!(parse(&headers(&[])), None);
    }
}
