//! The commands: read the arguments into typed values (usage errors, exit 2), then
//! fetch and verify (failures, exit 1), then print one report.

use std::{path::Path, time::Duration};

use abi::contract::Lottery;
use alloy::{
    primitives::Address,
    providers::{Provider, ProviderBuilder},
};
use attestation::{Freshness, MAX_DOCUMENT_SIZE, TrustAnchor};
use base64::Engine;
use eyre::{WrapErr, eyre};
use lottery_cli::attest_client::{self, AttestClientError, EnclaveApi, Expectations};
use net::RpcUrl;
use rpc_transport as transport;
use zeroize::Zeroizing;

use crate::{
    cli::{Cli, Command, SealKeyArgs, TrustArgs, VerifyArgs},
    report::Report,
};

/// Why the command did not succeed, and so its exit code.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The arguments or configuration are unusable (exit 2).
    Usage(eyre::Report),
    /// Verification failed, or the enclave or chain refused (exit 1).
    Rejected(eyre::Report),
}

impl Failure {
    pub(crate) const EXIT_REJECTED: u8 = runner::exit::FAILED;
    pub(crate) const EXIT_USAGE: u8 = runner::exit::CONFIG;

    pub(crate) fn report(&self) -> &eyre::Report {
        match self {
            Self::Usage(r) | Self::Rejected(r) => r,
        }
    }

    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) => Self::EXIT_USAGE,
            Self::Rejected(_) => Self::EXIT_REJECTED,
        }
    }
}

impl From<AttestClientError> for Failure {
    fn from(e: AttestClientError) -> Self {
        match e {
            AttestClientError::RootCert { .. }
            | AttestClientError::RootCertUnreadable(_)
            | AttestClientError::AwsRoot(_)
            | AttestClientError::Setup(_)
            | AttestClientError::NoExpectedPcr0(_) => Self::Usage(e.into()),
            _ => Self::Rejected(e.into()),
        }
    }
}

fn usage(e: impl Into<eyre::Report>) -> Failure {
    Failure::Usage(e.into())
}

fn rejected(e: impl Into<eyre::Report>) -> Failure {
    Failure::Rejected(e.into())
}

type Result<T, E = Failure> = std::result::Result<T, E>;

/// Entry point: dispatches to the command.
pub(crate) async fn run(cli: Cli) -> Result<()> {
    let report = match cli.command {
        Command::Verify(args) => verify(&args).await?,
        Command::SealKey(args) => seal_key(&args).await?,
    };
    let text = if cli.json {
        serde_json::to_string_pretty(&report).map_err(|e| rejected(eyre!(e)))?
    } else {
        report.text()
    };
    println!("{text}");
    Ok(())
}

/// The trusted root and expectations from the shared options.
fn trust(
    args: &TrustArgs,
    operator: Option<Address>,
) -> Result<(TrustAnchor, Expectations, Duration)> {
    let root = attest_client::trust_anchor(
        args.allow_simulated
            .then_some(args.root_cert.as_deref())
            .flatten(),
    )?;
    let expectations = Expectations {
        allow_debug: args.allow_debug,
        pcrs: args.expected_pcr.clone(),
        operator,
        ..Expectations::default()
    };
    Ok((root, expectations, Duration::from_secs(args.max_age)))
}

fn parse_url(text: &str, flag: &str) -> Result<RpcUrl> {
    RpcUrl::parse(text).map_err(|e| usage(eyre!(e).wrap_err(format!("invalid {flag}"))))
}

async fn verify(args: &VerifyArgs) -> Result<Report> {
    let (root, mut expectations, max_age) = trust(&args.trust, args.expected_operator)?;
    if let Some(path) = &args.file {
        let document = read_document(path)?;
        let (freshness, when) = match args.at {
            Some(at) => (Freshness::archived(at, max_age), "at --at"),
            None => (
                Freshness::max_age_only(attest_client::now()?, max_age),
                "now",
            ),
        };
        let verified = attest_client::verify_document(&document, &root, &expectations, freshness)?;
        let mut checks = vec![
            "signature".to_owned(),
            format!("certificate chain to {}", root.subject()),
            format!("max age {} s {when}", max_age.as_secs()),
        ];
        checks.extend(expectations.checks());
        return Ok(Report::new(&verified, checks));
    }
    let Some(url) = &args.url else {
        return Err(usage(eyre!("pass --url URL or --file PATH")));
    };
    let api = EnclaveApi::new(parse_url(url, "--url")?)?;
    // With a contract: user_data must name it and its chain, the chain must name the
    // attested operator, and the document's PCR0 must be the one recorded for it.
    let config = match (&args.contract, &args.rpc_url) {
        (Some(contract), Some(rpc_url)) => {
            let config = read_chain(&mut expectations, *contract, rpc_url).await?;
            expectations.pcrs =
                attest_client::with_chain_pcr0(&expectations.pcrs, Some(&config), config.operator)?;
            Some(config)
        }
        _ => None,
    };
    let attested = api.fetch_verified(&root, &expectations, max_age).await?;
    let mut checks = attested.checks.clone();
    if let Some(config) = config {
        let attested_operator = attested
            .operator()
            .ok_or_else(|| rejected(eyre!("the document names no operator")))?;
        if let Some(p) = &config.pending_operator
            && p.operator == attested_operator
        {
            return Err(rejected(eyre!(
                "the attested operator {attested_operator} is announced but not yet the contract's operator: it takes effect at {} (chain time), once no round takes bets",
                p.effective_at
            )));
        }
        match config.operator {
            Some(op) if op == attested_operator => checks.push("on-chain operator".to_owned()),
            Some(op) => {
                return Err(rejected(eyre!(
                    "the contract's on-chain operator is {op}, not the attested operator {attested_operator}"
                )));
            }
            None => {
                return Err(rejected(eyre!(
                    "the contract has no operator; the attested operator is {attested_operator} (lottery set-operator --from-attestation sets it)"
                )));
            }
        }
        checks.push("PCR0 recorded on chain".to_owned());
    }
    Ok(Report::new(&attested.verified, checks))
}

/// Reads the chain id into `expectations` (with the contract) and the contract's
/// configuration.
async fn read_chain(
    expectations: &mut Expectations,
    contract: Address,
    rpc_url: &str,
) -> Result<abi::views::ConfigView> {
    let rpc = parse_url(rpc_url, "--rpc-url")?;
    let provider = ProviderBuilder::new()
        .connect_client(transport::connect_tcp(rpc.clone()).map_err(usage)?)
        .erased();
    let chain_id = provider
        .get_chain_id()
        .await
        .map_err(|e| rejected(eyre!("cannot query {rpc}: {}", runner::error_chain(&e))))?;
    expectations.chain_id = Some(chain_id);
    expectations.contract = Some(contract);
    let config = Lottery::new(contract, provider)
        .getConfig()
        .call()
        .await
        .map_err(|e| {
            rejected(eyre!(
                "cannot read the contract's configuration from {rpc}: {}",
                runner::error_chain(&e)
            ))
        })?;
    Ok(abi::views::ConfigView::from(config))
}

/// Largest document file read: hex doubles a document's size.
const MAX_DOCUMENT_FILE_BYTES: u64 = 2 * MAX_DOCUMENT_SIZE as u64 + 1024;

/// A saved document: raw CBOR (a COSE_Sign1 array or tag), else hex, else base64.
fn read_document(path: &Path) -> Result<Vec<u8>> {
    let bytes = runner::files::read_bounded(path, MAX_DOCUMENT_FILE_BYTES).map_err(|e| {
        let e = match e {
            runner::files::FileError::TooLarge { .. } => eyre!("{e}; no document is"),
            _ => eyre::Report::new(e),
        };
        usage(e)
    })?;
    // 0x84: a 4-element array (untagged COSE_Sign1); 0xd2: CBOR tag 18.
    if matches!(bytes.first(), Some(0x84 | 0xd2)) {
        return Ok(bytes);
    }
    let text: String = String::from_utf8_lossy(&bytes)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let hex_text = text.strip_prefix("0x").unwrap_or(&text);
    if !hex_text.is_empty()
        && hex_text.bytes().all(|b| b.is_ascii_hexdigit())
        && let Ok(decoded) = alloy::hex::decode(hex_text)
    {
        return Ok(decoded);
    }
    if let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(&text) {
        return Ok(decoded);
    }
    // Not text in either encoding: let the verifier say what is wrong with the bytes.
    Ok(bytes)
}

async fn seal_key(args: &SealKeyArgs) -> Result<Report> {
    let (root, mut expectations, max_age) = trust(&args.trust, None)?;
    let api = EnclaveApi::new(parse_url(&args.url, "--url")?)?;
    let signer = match &args.key_file {
        Some(path) => lottery_cli::keys::read_private_key_file(path).map_err(usage)?,
        None => prompt_key()?,
    };
    let address = signer.address();
    if let Some(expected) = args.expected_operator
        && expected != address
    {
        return Err(usage(eyre!(
            "the key's address is {address}, not --expected-operator {expected}; nothing was sent"
        )));
    }
    // The image the key may go to: the PCR0 recorded on chain for this address (or
    // the command line's); nothing is sent without one.
    let config = match (&args.contract, &args.rpc_url) {
        (Some(contract), Some(rpc_url)) => {
            Some(read_chain(&mut expectations, *contract, rpc_url).await?)
        }
        _ => None,
    };
    expectations.pcrs =
        attest_client::with_chain_pcr0(&expectations.pcrs, config.as_ref(), Some(address))?;
    let secret = Zeroizing::new(signer.to_bytes().0);
    drop(signer);
    let attested = api.fetch_verified(&root, &expectations, max_age).await?;
    let sealed = attest_client::seal_key(&attested, secret.as_slice())?;
    drop(secret);
    let injected = api
        .inject_sealed_key(&sealed)
        .await
        .map_err(|e| rejected(eyre!(e).wrap_err("the enclave did not accept the key")))?;
    if injected != address {
        return Err(rejected(eyre!(
            "the enclave reports operator {injected}, but the key's address is {address}"
        )));
    }
    let mut checks = attested.checks.clone();
    checks.push("sealed to the document's public key and nonce".to_owned());
    let mut report = Report::new(&attested.verified, checks);
    report.injected_operator = Some(injected.to_checksum(None));
    Ok(report)
}

/// Reads the key at a hidden terminal prompt; refuses when stdin is not a
/// terminal (the key would be echoed, piped from history, or logged).
fn prompt_key() -> Result<alloy::signers::local::PrivateKeySigner> {
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() {
        return Err(usage(eyre!(
            "no --key-file given and stdin is not a terminal: refusing to read a key where it could be echoed; pass --key-file PATH"
        )));
    }
    let text = Zeroizing::new(
        rpassword::prompt_password("operator private key (hex, input hidden): ")
            .wrap_err("cannot read the key from the terminal")
            .map_err(usage)?,
    );
    abi::keys::parse_private_key(&text).map_err(usage)
}
