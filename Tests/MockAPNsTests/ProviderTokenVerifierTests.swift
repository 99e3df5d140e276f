import Crypto
import Foundation
import XCTest

@testable import MockAPNs

final class ProviderTokenVerifierTests: XCTestCase {
    private func verifier() throws -> ProviderTokenVerifier {
        try ProviderTokenVerifier(keys: [TestCredentials.providerKey()])
    }

    func testValidTokenCarriesItsIssueTime() throws {
        let jwt = try TestJWT.make(key: TestCredentials.signingKey(), issuedAt: 1_700_000_000)
        XCTAssertEqual(try self.verifier().verify(jwt[...]), .valid(issuedAt: 1_700_000_000, keyID: "TESTKEY123"))
    }

    func testWrongKeyIDIssuerAlgorithmOrSigner() throws {
        let key = try TestCredentials.signingKey()
        let verifier = try self.verifier()
        XCTAssertEqual(verifier.verify(try TestJWT.make(key: key, keyID: "OTHERKEY12")[...]), .invalid)
        XCTAssertEqual(verifier.verify(try TestJWT.make(key: key, teamID: "OTHERTEAM1")[...]), .invalid)
        XCTAssertEqual(verifier.verify(try TestJWT.make(key: key, algorithm: "ES384")[...]), .invalid)
        XCTAssertEqual(verifier.verify(try TestJWT.make(key: P256.Signing.PrivateKey())[...]), .invalid)
    }

    func testTamperedClaimsAndMalformedTokens() throws {
        let verifier = try self.verifier()
        let jwt = try TestJWT.make(key: TestCredentials.signingKey(), issuedAt: 1_700_000_000)
        let parts = jwt.split(separator: ".").map(String.init)
        let otherClaims = TestJWT.base64URL(Data(#"{"iss":"TEAM123456","iat":1700000001}"#.utf8))
        XCTAssertEqual(verifier.verify("\(parts[0]).\(otherClaims).\(parts[2])"[...]), .invalid)
        XCTAssertEqual(verifier.verify("\(parts[0]).\(parts[1])"[...]), .invalid)
        XCTAssertEqual(verifier.verify("\(parts[0]).\(parts[1]).\(parts[2])="[...]), .invalid, "padding is not base64url")
        XCTAssertEqual(verifier.verify(""[...]), .invalid)

        // A DER signature (what a generic ECDSA API returns) is not the raw R||S JWS wants.
        let key = try TestCredentials.signingKey()
        let der = try key.signature(for: Data("\(parts[0]).\(parts[1])".utf8)).derRepresentation
        XCTAssertEqual(verifier.verify("\(parts[0]).\(parts[1]).\(TestJWT.base64URL(der))"[...]), .invalid)
    }

    func testIssueTimeMustBeANumber() throws {
        let key = try TestCredentials.signingKey()
        let header = TestJWT.base64URL(Data(#"{"alg":"ES256","kid":"TESTKEY123"}"#.utf8))
        for claimsJSON in [#"{"iss":"TEAM123456","iat":"1700000000"}"#, #"{"iss":"TEAM123456","iat":true}"#, #"{"iss":"TEAM123456"}"#] {
            let input = header + "." + TestJWT.base64URL(Data(claimsJSON.utf8))
            let signature = try key.signature(for: Data(input.utf8)).rawRepresentation
            XCTAssertEqual(try self.verifier().verify((input + "." + TestJWT.base64URL(signature))[...]), .invalid, claimsJSON)
        }
    }

    func testVerdictsAreCachedPerConnection() throws {
        let verifier = try self.verifier()
        let jwt = try TestJWT.valid()
        var cache = ConnectionTokenCache()
        let first = cache.verdict(for: jwt[...], verifier: verifier)
        XCTAssertEqual(cache.verdict(for: jwt[...], verifier: verifier), first)
        XCTAssertEqual(verifier.verdict(for: jwt[...]), first)
    }

    func testBadPublicKeyIsAStartError() {
        XCTAssertThrowsError(
            try ProviderTokenVerifier(keys: [MockProviderKey(keyID: "K", teamID: "T", publicKeyPEM: "nope")])
        )
    }

    func testBase64URL() {
        XCTAssertEqual(Base64URL.decode("AQID"), [1, 2, 3])
        XCTAssertEqual(Base64URL.decode("_-8"), [0xFF, 0xEF])
        XCTAssertNil(Base64URL.decode("A"))
        XCTAssertNil(Base64URL.decode("AQ+D"))
    }
}
