//! Tests of [`super`]: bodies round-trip, and every malformed one is named.
use super::*;

fn image(shape: Vec<i64>) -> WireTensor {
    let n = WireTensor::elements(&shape).unwrap();
    let data: Vec<u8> = (0..n)
        .flat_map(|i| (i as f32 * 0.5).to_le_bytes())
        .collect();
    WireTensor {
        name: "input__0".into(),
        datatype: Datatype::Fp32,
        shape,
        data: TensorData::Fixed(Bytes::from(data)),
    }
}

#[test]
fn a_request_round_trips_in_json_and_in_binary() {
    let t = image(vec![2, 3]);
    for binary in [false, true] {
        let body = encode_request(std::slice::from_ref(&t), binary, binary);
        assert_eq!(body.header_len.is_some(), binary);
        let decoded = decode_request(&body.bytes, body.header_len).unwrap();
        assert_eq!(decoded.inputs, vec![t.clone()], "binary {binary}");
        assert_eq!(decoded.outputs.wants("output__0"), Some(binary));
    }
}

#[test]
fn a_response_round_trips_with_only_the_wanted_outputs() {
    let outs = [
        image(vec![1, 4]),
        WireTensor {
            name: "extra".into(),
            ..image(vec![1])
        },
    ];
    let wish = OutputWish {
        binary_all: false,
        named: Some(vec![("input__0".into(), true)]),
    };
    let body = encode_response("m", Some("7".into()), &outs, &wish);
    let (response, tensors) = decode_response(&body.bytes, body.header_len).unwrap();
    assert_eq!(response.id.as_deref(), Some("7"));
    assert_eq!(tensors, vec![outs[0].clone()]);
}

#[test]
fn binary_sizes_that_do_not_add_up_are_refused() {
    let t = image(vec![2]);
    let body = encode_request(&[t], true, false);
    let n = body.header_len.unwrap();
    let short = body.bytes.slice(..body.bytes.len() - 1);
    let err = decode_request(&short, Some(n)).unwrap_err();
    assert!(err.message.contains("runs past the body"), "{err}");
    let mut long = BytesMut::from(&body.bytes[..]);
    long.put_u8(0);
    let err = decode_request(&long.freeze(), Some(n)).unwrap_err();
    assert!(
        err.message.contains("no input's binary_data_size claims"),
        "{err}"
    );
    let err = decode_request(&body.bytes, Some(body.bytes.len() + 1)).unwrap_err();
    assert!(err.message.contains(HEADER_LENGTH), "{err}");
}

#[test]
fn malformed_requests_name_what_is_wrong() {
    let cases = [
        ("{", "not a valid inference request"),
        (
            r#"{"inputs":[{"name":"x","shape":[2],"datatype":"FP99","data":[1,2]}]}"#,
            "unknown datatype",
        ),
        (
            r#"{"inputs":[{"name":"x","shape":[3],"datatype":"FP32","data":[1,2]}]}"#,
            "needs 3 elements",
        ),
        (
            r#"{"inputs":[{"name":"x","shape":[2],"datatype":"FP32"}]}"#,
            "neither data nor",
        ),
    ];
    for (body, expected) in cases {
        let err = decode_request(&Bytes::from(body), None).unwrap_err();
        assert!(err.message.contains(expected), "{body}: {err}");
        assert_eq!(err.http_status(), 400);
    }
}
