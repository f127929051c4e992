package events

import "strings"

// iso4217Codes are the alphabetic codes of the currencies in circulation in ISO 4217's
// list one as of 2026. Fund codes (BOV, CLF, USN, …) and the X-codes for precious
// metals, SDRs and testing are left out: no campaign spends or earns in them. Codes
// withdrawn recently (ANG, BGN, HRK, SLL, ZWL) are also out, since every event they
// could appear in is older than the retention period.
const iso4217Codes = `
AED AFN ALL AMD AOA ARS AUD AWG AZN
BAM BBD BDT BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD
CAD CDF CHF CLP CNY COP CRC CUP CVE CZK
DJF DKK DOP DZD
EGP ERN ETB EUR
FJD FKP
GBP GEL GHS GIP GMD GNF GTQ GYD
HKD HNL HTG HUF
IDR ILS INR IQD IRR ISK
JMD JOD JPY
KES KGS KHR KMF KPW KRW KWD KYD KZT
LAK LBP LKR LRD LSL LYD
MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN
NAD NGN NIO NOK NPR NZD
OMR
PAB PEN PGK PHP PKR PLN PYG
QAR
RON RSD RUB RWF
SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL
THB TJS TMT TND TOP TRY TTD TWD TZS
UAH UGX USD UYU UZS
VED VES VND VUV
WST
XAF XCD XCG XOF XPF
YER
ZAR ZMW ZWG
`

// currencies is iso4217Codes as a set, built once.
var currencies = func() map[string]struct{} {
	set := make(map[string]struct{}, 160)
	for _, code := range strings.Fields(iso4217Codes) {
		set[code] = struct{}{}
	}
	return set
}()

// isCurrency reports whether code is an active ISO 4217 code. Codes are upper case
// by the standard; "usd" is rejected rather than silently fixed, since a producer that
// sends it is likely to get other fields wrong as well.
func isCurrency(code string) bool {
	_, ok := currencies[code]
	return ok
}
