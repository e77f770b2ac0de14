//! Tests of the target configuration: URLs, the `[target]` table and the checks.

use super::*;

#[test]
fn urls_of_both_sides_parse_and_print_back() {
    for text in [
        "http://127.0.0.1:8000/v2/models/resnet18",
        "http://localhost:9/v2/models/m/versions/3",
        "grpc://10.0.0.2:8001/resnet18",
        "grpc://[::1]:8001/m/2",
    ] {
        let url: TargetUrl = text.parse().unwrap();
        assert_eq!(url.to_string(), text);
    }
    let url: TargetUrl = "grpc://[::1]:8001/m/2".parse().unwrap();
    assert_eq!(
        (url.host.as_str(), url.port, url.version.as_deref()),
        ("::1", 8001, Some("2"))
    );
    assert!(url.is_loopback());
    assert!(!"http://10.1.2.3:80/v2/models/x"
        .parse::<TargetUrl>()
        .unwrap()
        .is_loopback());
}

#[test]
fn bad_urls_say_what_is_wrong() {
    for (text, expected) in [
        ("127.0.0.1:8000", "http:// or grpc://"),
        ("https://a:1/v2/models/m", "TLS"),
        ("http://a/v2/models/m", "port is missing"),
        ("http://a:0/v2/models/m", "1 to 65535"),
        ("http://a:80/models/m", "/v2/models/NAME"),
        ("grpc://a:80/", "the model's name"),
    ] {
        let err = text.parse::<TargetUrl>().unwrap_err().to_string();
        assert!(err.contains(expected), "{text}: {err}");
    }
}

#[test]
fn a_target_reads_from_toml_with_its_url_as_written() {
    let t: TargetConfig = toml::from_str("url = \"grpc://h:9/m\"\nencoding = \"json\"").unwrap();
    assert_eq!(
        (t.url.port, t.encoding, t.connections),
        (9, Some(Encoding::Json), None)
    );
    let json = serde_json::to_value(&t).unwrap();
    assert_eq!(json["url"], "grpc://h:9/m");
    assert!(toml::from_str::<TargetConfig>("url = \"ftp://h:9/m\"").is_err());
    assert!(toml::from_str::<TargetConfig>("url = \"grpc://h:9/m\"\nconections = 2").is_err());
}

#[test]
fn connections_follow_the_load_unless_given() {
    let mut t = TargetConfig::new("http://a:1/v2/models/m".parse().unwrap());
    assert_eq!(t.connections_for(Some(8)), 8);
    assert_eq!(t.connections_for(None), 64);
    t.connections = Some(3);
    assert_eq!(t.connections_for(Some(8)), 3);
    let g = TargetConfig::new("grpc://a:1/m".parse().unwrap());
    assert_eq!(g.connections_for(Some(8)), 1);
    assert_eq!(g.metrics_url(), None);
    assert_eq!(t.metrics_url().as_deref(), Some("http://a:1/metrics"));
}
