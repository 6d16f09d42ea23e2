//! The hostile JSON-RPC upstream itself (`tests::upstream`), against a real anvil:
//! each lie it can tell, told once, with the honest answer from anvil beside it; a
//! batch treated element by element; outages and restarts on the same port.

use std::sync::Arc;

use abi::contract::Lottery;
use alloy::{
    network::{EthereumWallet, TransactionBuilder},
    primitives::{Address, B256, Bytes, U256, keccak256},
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::types::TransactionRequest,
    sol_types::{SolCall, SolValue},
};
use serde_json::{Value, json};
use tests::{
    Chain,
    upstream::{Counts, HostileUpstream, Hostility},
};

/// The shift the timestamp tests use (any non-zero value; this is the issue's).
const SHIFT: u64 = 70;

/// anvil's default chain id, as a JSON-RPC quantity.
const CHAIN_ID: &str = "0x7a69";

/// The port of an `http://127.0.0.1:PORT` URL.
fn port(url: &str) -> u16 {
    url.rsplit(':').next().unwrap().parse().unwrap()
}

/// POSTs `body` to `url`: the HTTP status and the body as JSON (`Null` if not JSON).
async fn post(url: &str, body: &Value) -> (u16, Value) {
    let (status, _, bytes) = post_raw(url, body).await;
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// POSTs `body` to `url`: the HTTP status, headers and body bytes.
async fn post_raw(url: &str, body: &Value) -> (u16, hyper::HeaderMap, bytes::Bytes) {
    let payload = serde_json::to_vec(body).unwrap();
    tests::stack::http(port(url), "POST", "/", Some(("application/json", payload))).await
}

/// One JSON-RPC request, id 1.
fn request(method: &str, params: Value) -> Value {
    let mut request = json!({ "jsonrpc": "2.0", "id": 1, "method": method });
    request["params"] = params;
    request
}

/// The `result` of one call to `url`, asserting there is one.
async fn result(url: &str, method: &str, params: Value) -> Value {
    let (status, answer) = post(url, &request(method, params)).await;
    assert_eq!(status, 200, "{answer}");
    answer
        .get("result")
        .cloned()
        .unwrap_or_else(|| panic!("no result: {answer}"))
}

/// An `eth_call` of `calldata` to `to` from `from` at the latest block.
fn eth_call_params(from: Address, to: Address, calldata: &Bytes) -> Value {
    json!([{ "from": from, "to": to, "input": calldata }, "latest"])
}

/// A provider through `url`, signing for `wallet` if given (nonces asked every time,
/// as `Chain` does: a held transaction must not advance a cached nonce).
fn provider(url: &str, wallet: Option<EthereumWallet>) -> DynProvider {
    let client = rpc_transport::connect_tcp(net::RpcUrl::parse(url).unwrap()).unwrap();
    let builder = ProviderBuilder::new().with_simple_nonce_management();
    match wallet {
        Some(wallet) => builder.wallet(wallet).connect_client(client).erased(),
        None => builder.connect_client(client).erased(),
    }
}

/// A block without its timestamp, to compare the rest of it whole.
fn without_timestamp(block: &Value) -> Value {
    let mut block = block.clone();
    block.as_object_mut().unwrap().remove("timestamp");
    block
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timestamp_shift_moves_block_times_and_nothing_else() {
    let chain = Chain::start().await;
    let at = chain.now().await + 1_000;
    chain.mine_at(at).await;
    let upstream = HostileUpstream::start(&chain.endpoint()).await.unwrap();
    upstream.set_hostility(Hostility {
        timestamp_shift_secs: SHIFT,
        ..Hostility::default()
    });

    let latest = json!(["latest", false]);
    let honest = result(&chain.endpoint(), "eth_getBlockByNumber", latest.clone()).await;
    let lied = result(&upstream.url(), "eth_getBlockByNumber", latest.clone()).await;
    assert_eq!(honest["timestamp"], json!(format!("{at:#x}")));
    assert_eq!(lied["timestamp"], json!(format!("{:#x}", at + SHIFT)));
    // Same block otherwise: hash, number, parent, everything.
    assert_eq!(lied["hash"], honest["hash"]);
    assert_eq!(without_timestamp(&lied), without_timestamp(&honest));

    // By hash too, and as alloy reads it.
    let by_hash = result(
        &upstream.url(),
        "eth_getBlockByHash",
        json!([honest["hash"], false]),
    )
    .await;
    assert_eq!(by_hash["timestamp"], json!(format!("{:#x}", at + SHIFT)));
    let header = provider(&upstream.url(), None)
        .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
        .await
        .unwrap()
        .unwrap()
        .header;
    assert_eq!(header.timestamp, at + SHIFT);
    assert_eq!(
        Some(header.hash),
        serde_json::from_value(honest["hash"].clone()).ok()
    );

    // Honest again: anvil's timestamp.
    upstream.set_hostility(Hostility::default());
    let again = result(&upstream.url(), "eth_getBlockByNumber", latest).await;
    assert_eq!(again["timestamp"], json!(format!("{at:#x}")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listed_selector_succeeds_where_anvil_reverts() {
    let chain = Chain::start().await;
    let lottery = chain.deploy_with_operator(500).await;
    let upstream = HostileUpstream::start(&chain.endpoint()).await.unwrap();
    upstream.set_hostility(Hostility {
        succeed_calls_with_selectors: vec![Lottery::drawWinnerCall::SELECTOR],
        ..Hostility::default()
    });
    // A player drawing round 1 with a seed nobody committed: anvil reverts.
    let draw = lottery.drawWinner(B256::repeat_byte(9)).calldata().clone();
    let params = eth_call_params(chain.player(0), *lottery.address(), &draw);
    let (_, honest) = post(&chain.endpoint(), &request("eth_call", params.clone())).await;
    assert_eq!(honest["error"]["code"], json!(3), "{honest}");

    let (status, lied) = post(&upstream.url(), &request("eth_call", params)).await;
    assert_eq!(status, 200);
    assert_eq!(lied, json!({ "jsonrpc": "2.0", "id": 1, "result": "0x" }));
    // The calldata may come as `data` instead of `input`.
    let as_data = json!([{ "from": chain.player(0), "to": lottery.address(), "data": draw }]);
    assert_eq!(
        result(&upstream.url(), "eth_call", as_data).await,
        json!("0x")
    );
    // So a contract binding's simulation succeeds.
    let through = Lottery::new(*lottery.address(), provider(&upstream.url(), None));
    through
        .drawWinner(B256::repeat_byte(9))
        .from(chain.player(0))
        .call()
        .await
        .unwrap();

    // Another selector still reaches anvil and reverts.
    let start = lottery.startRound().calldata().clone();
    let (_, other) = post(
        &upstream.url(),
        &request(
            "eth_call",
            eth_call_params(chain.player(0), *lottery.address(), &start),
        ),
    )
    .await;
    assert_eq!(other["error"]["code"], json!(3), "{other}");

    let inputs: Vec<Bytes> = upstream.calls().into_iter().map(|c| c.input).collect();
    assert_eq!(inputs, vec![draw.clone(), draw.clone(), draw, start]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_transaction_is_answered_with_its_hash_and_never_mined() {
    let chain = Chain::start().await;
    let upstream = HostileUpstream::start(&chain.endpoint()).await.unwrap();
    upstream.set_hostility(Hostility {
        hold_raw_transactions: true,
        hold_first: Some(1),
        ..Hostility::default()
    });
    let (sender, recipient) = (chain.player(0), chain.player(1));
    let through = provider(
        &upstream.url(),
        Some(EthereumWallet::from(chain.keys[2].clone())),
    );
    let transfer = |input: &'static [u8]| {
        TransactionRequest::default()
            .with_from(sender)
            .with_to(recipient)
            .with_value(U256::from(1_000))
            .with_input(Bytes::from_static(input))
    };
    let before = chain.balance(recipient).await;

    // The first is held: answered with its hash, not mined (anvil automines).
    let held = *through
        .send_transaction(transfer(b"held"))
        .await
        .unwrap()
        .tx_hash();
    let seen = upstream.transactions();
    assert_eq!(seen.len(), 1);
    assert!(seen[0].held);
    assert_eq!(seen[0].hash, held);
    assert_eq!(keccak256(&seen[0].raw), held);
    assert_eq!(seen[0].input, Bytes::from_static(b"held"));
    assert_eq!(seen[0].from, Some(sender));
    assert!(
        chain
            .provider
            .get_transaction_by_hash(held)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        chain.provider.get_transaction_count(sender).await.unwrap(),
        0
    );
    assert_eq!(chain.balance(recipient).await, before);

    // `hold_first` is used up: the next one (same nonce) is forwarded and mined.
    let forwarded = *through
        .send_transaction(transfer(b"forwarded"))
        .await
        .unwrap()
        .tx_hash();
    assert_ne!(forwarded, held);
    let receipt = chain
        .provider
        .get_transaction_receipt(forwarded)
        .await
        .unwrap()
        .expect("the forwarded transaction is mined");
    assert!(receipt.status());
    assert_eq!(receipt.from, sender);
    assert_eq!(chain.balance(recipient).await, before + U256::from(1_000));
    let seen = upstream.transactions();
    assert_eq!(seen.len(), 2);
    assert_eq!(
        (seen[1].held, seen[1].hash, seen[1].from),
        (false, forwarded, Some(sender))
    );
    assert_eq!(seen[1].input, Bytes::from_static(b"forwarded"));
    assert!(seen[0].at <= seen[1].at);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_is_treated_call_by_call_ids_and_order_kept() {
    let chain = Chain::start().await;
    let lottery = chain.deploy_with_operator(500).await;
    let upstream = HostileUpstream::start(&chain.endpoint()).await.unwrap();
    let max_duration = Lottery::MAX_BETTING_DURATIONCall::SELECTOR;
    upstream.set_hostility(Hostility {
        timestamp_shift_secs: SHIFT,
        succeed_calls_with_selectors: vec![Lottery::drawWinnerCall::SELECTOR],
        rewrite_call: Some(Arc::new(move |input: &[u8], _: &[u8]| {
            input
                .starts_with(&max_duration)
                .then(|| U256::from(1).abi_encode())
        })),
        ..Hostility::default()
    });
    let (player, to) = (chain.player(0), *lottery.address());
    let call = |id: Value, calldata: Bytes| {
        json!({
            "jsonrpc": "2.0",
            "id": id,
            "method": "eth_call",
            "params": eth_call_params(player, to, &calldata),
        })
    };
    let draw = lottery.drawWinner(B256::repeat_byte(9)).calldata().clone();
    let start = lottery.startRound().calldata().clone();
    let duration = lottery.MAX_BETTING_DURATION().calldata().clone();
    let batch = json!([
        { "jsonrpc": "2.0", "id": 1, "method": "eth_getBlockByNumber", "params": ["latest", false] },
        call(json!("two"), draw.clone()),
        { "jsonrpc": "2.0", "id": 3, "method": "eth_chainId", "params": [] },
        call(json!(4), duration.clone()),
        call(json!(5), start.clone()),
    ]);
    let honest_block = result(
        &chain.endpoint(),
        "eth_getBlockByNumber",
        json!(["latest", false]),
    )
    .await;
    let before = upstream.counts();
    let (status, answers) = post(&upstream.url(), &batch).await;
    assert_eq!(status, 200);
    let answers = answers.as_array().unwrap();
    let ids: Vec<&Value> = answers.iter().map(|a| &a["id"]).collect();
    assert_eq!(
        ids,
        [&json!(1), &json!("two"), &json!(3), &json!(4), &json!(5)]
    );

    let hex = honest_block["timestamp"].as_str().unwrap();
    let ts = u64::from_str_radix(hex.trim_start_matches("0x"), 16).unwrap();
    assert_eq!(
        answers[0]["result"]["timestamp"],
        json!(format!("{:#x}", ts + SHIFT))
    );
    assert_eq!(answers[0]["result"]["hash"], honest_block["hash"]);
    assert_eq!(answers[1]["result"], json!("0x"));
    assert_eq!(answers[2]["result"], json!(CHAIN_ID));
    assert_eq!(
        answers[3]["result"],
        json!(format!(
            "0x{}",
            alloy::hex::encode(U256::from(1).abi_encode())
        ))
    );
    // anvil's revert, relayed as it is (a rewrite only touches results).
    assert_eq!(answers[4]["error"]["code"], json!(3), "{}", answers[4]);

    let counted = upstream.counts().since(&before);
    assert_eq!(
        counted,
        Counts {
            http: 1,
            calls: 5,
            methods: [
                ("eth_call".to_owned(), 3),
                ("eth_chainId".to_owned(), 1),
                ("eth_getBlockByNumber".to_owned(), 1),
            ]
            .into(),
        }
    );
    let inputs: Vec<Bytes> = upstream.calls().into_iter().map(|c| c.input).collect();
    assert_eq!(inputs, vec![draw, duration, start]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rewrite_replaces_the_results_it_chooses() {
    let chain = Chain::start().await;
    let lottery = chain.deploy_with_operator(500).await;
    let upstream = HostileUpstream::start(&chain.endpoint()).await.unwrap();
    // One more than anvil says: proves the rewrite sees anvil's bytes.
    upstream.set_hostility(Hostility {
        rewrite_call: Some(Arc::new(|input: &[u8], original: &[u8]| {
            if !input.starts_with(&Lottery::MAX_BETTING_DURATIONCall::SELECTOR) {
                return None;
            }
            let value = U256::abi_decode(original).ok()?;
            Some((value + U256::from(1)).abi_encode())
        })),
        ..Hostility::default()
    });
    let through = Lottery::new(*lottery.address(), provider(&upstream.url(), None));
    let week = U256::from(7 * 24 * 60 * 60);
    assert_eq!(lottery.MAX_BETTING_DURATION().call().await.unwrap(), week);
    assert_eq!(
        through.MAX_BETTING_DURATION().call().await.unwrap(),
        week + U256::from(1)
    );
    // A call the rewrite declines is anvil's.
    assert_eq!(
        through.MIN_BETTING_DURATION().call().await.unwrap(),
        U256::from(60)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn honest_it_relays_anvils_bytes_and_it_can_go_down_and_come_back() {
    let chain = Chain::start().await;
    let upstream = HostileUpstream::start(&chain.endpoint()).await.unwrap();
    let chain_id = request("eth_chainId", json!([]));
    let (status, _, direct) = post_raw(&chain.endpoint(), &chain_id).await;
    let (relayed_status, _, relayed) = post_raw(&upstream.url(), &chain_id).await;
    assert_eq!((relayed_status, &relayed), (status, &direct));

    // An outage: 502, counted, not recorded.
    upstream.set_down(true);
    let call = request(
        "eth_call",
        json!([{ "to": chain.player(0), "input": "0x" }]),
    );
    let (status, _, body) = post_raw(&upstream.url(), &call).await;
    assert_eq!(status, 502);
    assert_eq!(&body[..], b"the upstream is down");
    assert!(upstream.calls().is_empty());
    upstream.set_down(false);
    assert_eq!(
        result(&upstream.url(), "eth_chainId", json!([])).await,
        json!(CHAIN_ID)
    );

    // Stopped: nothing listens; restarted: the same URL answers, counts kept.
    upstream.stop().await;
    assert!(
        tokio::net::TcpStream::connect(("127.0.0.1", port(&upstream.url())))
            .await
            .is_err()
    );
    upstream.restart().await.unwrap();
    assert_eq!(
        result(&upstream.url(), "eth_chainId", json!([])).await,
        json!(CHAIN_ID)
    );
    let counts = upstream.counts();
    assert_eq!((counts.http, counts.calls), (4, 4));
    assert_eq!(counts.methods.get("eth_chainId"), Some(&3));
}
