package identity

import "fmt"

// iOSVersions pair the version token of an iOS User-Agent with Safari's.
var iOSVersions = []struct{ os, safari string }{
	{"17_5", "17.5"}, {"17_6", "17.6"}, {"18_0", "18.0"}, {"18_1", "18.1"}, {"18_2", "18.2"},
}

// samsungPhones keep their model in the User-Agent under Samsung Internet; Chrome on
// Android reports every phone as "Android 10; K" since its UA reduction.
var samsungPhones = []string{"SM-S918B", "SM-A546B", "SM-S921U", "SM-G991B"}

// userAgent draws a realistic User-Agent for a device kind in a platform ecosystem.
func (w *world) userAgent(kind, eco int) string {
	r := w.r
	chrome := 128 + r.IntN(4)
	ios := iOSVersions[r.IntN(len(iOSVersions))]
	switch kind {
	case kindPhone:
		if eco == ecoApple {
			if r.Float64() < 0.2 {
				return fmt.Sprintf("Mozilla/5.0 (iPhone; CPU iPhone OS %s like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/%d.0.6778.73 Mobile/15E148 Safari/604.1", ios.os, chrome)
			}
			return fmt.Sprintf("Mozilla/5.0 (iPhone; CPU iPhone OS %s like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/%s Mobile/15E148 Safari/604.1", ios.os, ios.safari)
		}
		if r.Float64() < 0.3 {
			model := samsungPhones[r.IntN(len(samsungPhones))]
			return fmt.Sprintf("Mozilla/5.0 (Linux; Android %d; %s) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/%d.0 Chrome/%d.0.0.0 Mobile Safari/537.36", 13+r.IntN(3), model, 25+r.IntN(3), chrome-6)
		}
		return fmt.Sprintf("Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/%d.0.0.0 Mobile Safari/537.36", chrome)
	case kindTablet:
		if eco == ecoApple || r.Float64() < 0.5 {
			return fmt.Sprintf("Mozilla/5.0 (iPad; CPU OS %s like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/%s Mobile/15E148 Safari/604.1", ios.os, ios.safari)
		}
		return fmt.Sprintf("Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/%d.0.0.0 Safari/537.36", chrome)
	}
	os := eco
	if kind == kindDesktop && eco == ecoApple && r.Float64() < 0.5 {
		os = ecoWindows // the family PC
	}
	firefox := 130 + r.IntN(4)
	switch os {
	case ecoApple:
		switch pick(r, []int{55, 40, 5}) {
		case 0:
			return fmt.Sprintf("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/%s Safari/605.1.15", ios.safari)
		case 1:
			return fmt.Sprintf("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/%d.0.0.0 Safari/537.36", chrome)
		}
		return fmt.Sprintf("Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:%d.0) Gecko/20100101 Firefox/%d.0", firefox, firefox)
	case ecoWindows:
		base := fmt.Sprintf("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/%d.0.0.0 Safari/537.36", chrome)
		switch pick(r, []int{65, 25, 10}) {
		case 0:
			return base
		case 1:
			return base + fmt.Sprintf(" Edg/%d.0.0.0", chrome)
		}
		return fmt.Sprintf("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:%d.0) Gecko/20100101 Firefox/%d.0", firefox, firefox)
	case ecoLinux:
		if r.Float64() < 0.6 {
			return fmt.Sprintf("Mozilla/5.0 (X11; Linux x86_64; rv:%d.0) Gecko/20100101 Firefox/%d.0", firefox, firefox)
		}
		return fmt.Sprintf("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/%d.0.0.0 Safari/537.36", chrome)
	}
	return fmt.Sprintf("Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/%d.0.0.0 Safari/537.36", chrome)
}
