package identity

import "strings"

// DeviceClass is the kind of device a user agent runs on.
type DeviceClass string

// Device classes.
const (
	ClassDesktop DeviceClass = "desktop"
	ClassMobile  DeviceClass = "mobile"
	ClassTablet  DeviceClass = "tablet"
	ClassBot     DeviceClass = "bot"
	ClassUnknown DeviceClass = "unknown"
)

// UserAgent is the part of a User-Agent header that matching compares.
type UserAgent struct {
	// Family is the browser or app: Chrome, Safari, Firefox, Edge, Opera,
	// Samsung Internet, Facebook, Instagram, Bot or Other.
	Family string
	// OS is Windows, macOS, iOS, iPadOS, Android, ChromeOS, Linux or Other.
	OS    string
	Class DeviceClass
}

// Vendor returns the platform vendor behind the OS ("Apple", "Google", "Microsoft",
// "Linux"), or "" when unknown. One person's phone and laptop tend to share a vendor, so
// it is compared across device classes where the OS itself differs.
func (u UserAgent) Vendor() string {
	switch u.OS {
	case "iOS", "iPadOS", "macOS":
		return "Apple"
	case "Android", "ChromeOS":
		return "Google"
	case "Windows":
		return "Microsoft"
	case "Linux":
		return "Linux"
	}
	return ""
}

// botMarkers identify automated clients; compared lower-case. "bot" alone would also
// catch phone brands such as Cubot, hence the delimiters.
var botMarkers = []string{"bot/", "bot;", "bot)", "+http", "crawler", "spider", "slurp", "curl/", "wget/", "python-requests", "headlesschrome", "go-http-client"}

// ParseUserAgent reads the browser family, OS and device class from a User-Agent header.
// It knows the common browsers by their tokens and nothing else; an unrecognized string
// parses to Other and ClassUnknown rather than a guess.
func ParseUserAgent(s string) UserAgent {
	if s == "" {
		return UserAgent{Family: "Other", OS: "Other", Class: ClassUnknown}
	}
	lower := strings.ToLower(s)
	for _, m := range botMarkers {
		if strings.Contains(lower, m) {
			return UserAgent{Family: "Bot", OS: "Other", Class: ClassBot}
		}
	}
	os, class := parseOS(s)
	return UserAgent{Family: parseFamily(s, os), OS: os, Class: class}
}

// parseOS reads the platform token. Order matters: iPhone and Android strings also say
// "like Mac OS X" and "Linux".
func parseOS(s string) (string, DeviceClass) {
	switch {
	case strings.Contains(s, "iPhone") || strings.Contains(s, "iPod"):
		return "iOS", ClassMobile
	case strings.Contains(s, "iPad"):
		return "iPadOS", ClassTablet
	case strings.Contains(s, "Android"):
		// Android tablets drop the "Mobile" token by convention.
		if strings.Contains(s, "Mobile") {
			return "Android", ClassMobile
		}
		return "Android", ClassTablet
	case strings.Contains(s, "Windows Phone"):
		return "Other", ClassMobile
	case strings.Contains(s, "Windows"):
		return "Windows", ClassDesktop
	case strings.Contains(s, "CrOS"):
		return "ChromeOS", ClassDesktop
	case strings.Contains(s, "Macintosh") || strings.Contains(s, "Mac OS X"):
		// iPadOS 13+ asks for desktop sites with a Mac string; it cannot be told apart.
		return "macOS", ClassDesktop
	case strings.Contains(s, "Linux") || strings.Contains(s, "X11"):
		return "Linux", ClassDesktop
	}
	return "Other", ClassUnknown
}

// familyTokens map a browser's own token to its family. Order matters: Chromium-based
// browsers also carry "Chrome/" and "Safari/", and in-app browsers carry everything.
var familyTokens = []struct{ token, family string }{
	{"FBAN/", "Facebook"},
	{"FBAV/", "Facebook"},
	{"Instagram", "Instagram"},
	{"SamsungBrowser/", "Samsung Internet"},
	{"EdgA/", "Edge"},
	{"EdgiOS/", "Edge"},
	{"Edg/", "Edge"},
	{"Edge/", "Edge"},
	{"OPR/", "Opera"},
	{"OPiOS/", "Opera"},
	{"Opera", "Opera"},
	{"CriOS/", "Chrome"},
	{"FxiOS/", "Firefox"},
	{"Firefox/", "Firefox"},
	{"Chromium/", "Chrome"},
	{"Chrome/", "Chrome"},
}

func parseFamily(s, os string) string {
	for _, t := range familyTokens {
		if strings.Contains(s, t.token) {
			return t.family
		}
	}
	// Safari is what is left of a WebKit string once every other browser is ruled out.
	if strings.Contains(s, "Safari/") && (strings.Contains(s, "Version/") || os == "iOS" || os == "iPadOS") {
		return "Safari"
	}
	return "Other"
}
