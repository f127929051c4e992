package generator

import "github.com/touchpoint/touchpoint/events"

// channelProfile holds the rates that make each channel's numbers look like that channel:
// search clicks far more than display, email is cheap, video is expensive.
type channelProfile struct {
	channel events.Channel
	// weight is the channel's relative share of journey touchpoints.
	weight int
	// ctr is clicks per impression; cvr is conversions per click.
	ctr, cvr float64
	// cpmCents is the cost of a thousand impressions; cpcCents the cost of a click.
	cpmCents, cpcCents int64
	// exposure is how a customer first meets the channel (an email is opened, an ad seen).
	exposure string
	// source and medium are the UTM parameters of a journey entering through the channel.
	source, medium string
}

// profiles is indexed like events.AllChannels.
var profiles = [...]channelProfile{
	{events.ChannelEmail, 20, 0.025, 0.030, 40, 0, "open", "newsletter", "email"},
	{events.ChannelSocial, 22, 0.009, 0.015, 650, 45, "impression", "instagram", "paid_social"},
	{events.ChannelDisplay, 16, 0.005, 0.008, 250, 0, "impression", "google_display", "display"},
	{events.ChannelSearch, 22, 0.032, 0.040, 0, 180, "impression", "google", "cpc"},
	{events.ChannelVideo, 10, 0.010, 0.012, 1200, 0, "impression", "youtube", "video"},
	{events.ChannelNative, 10, 0.008, 0.010, 300, 35, "impression", "taboola", "native"},
}

// Interaction types, from first exposure to intent. The funnel stage of a journey decides
// which of them its touchpoints show.
const (
	interactionImpression = "impression"
	interactionOpen       = "open"
	interactionClick      = "click"
	interactionVisit      = "visit"
	interactionView       = "product_view"
	interactionAddToCart  = "add_to_cart"
)

// Journey stages in funnel order; a journey advances one stage at a time and converts
// once it reaches the last.
var stages = [...]string{"awareness", "consideration", "intent", "purchase"}

// Geography per currency, so a EUR tenant's customers live in the euro area.
var geos = map[string][]events.Geo{
	"USD": {
		{Country: "US", Region: "CA", City: "San Francisco", Latitude: 37.7749, Longitude: -122.4194},
		{Country: "US", Region: "NY", City: "New York", Latitude: 40.7128, Longitude: -74.006},
		{Country: "US", Region: "TX", City: "Austin", Latitude: 30.2672, Longitude: -97.7431},
		{Country: "US", Region: "IL", City: "Chicago", Latitude: 41.8781, Longitude: -87.6298},
		{Country: "US", Region: "WA", City: "Seattle", Latitude: 47.6062, Longitude: -122.3321},
	},
	"EUR": {
		{Country: "DE", Region: "BE", City: "Berlin", Latitude: 52.52, Longitude: 13.405},
		{Country: "FR", Region: "IDF", City: "Paris", Latitude: 48.8566, Longitude: 2.3522},
		{Country: "ES", Region: "MD", City: "Madrid", Latitude: 40.4168, Longitude: -3.7038},
		{Country: "NL", Region: "NH", City: "Amsterdam", Latitude: 52.3676, Longitude: 4.9041},
		{Country: "IT", Region: "LOM", City: "Milan", Latitude: 45.4642, Longitude: 9.19},
	},
	"GBP": {
		{Country: "GB", Region: "ENG", City: "London", Latitude: 51.5074, Longitude: -0.1278},
		{Country: "GB", Region: "ENG", City: "Manchester", Latitude: 53.4808, Longitude: -2.2426},
		{Country: "GB", Region: "SCT", City: "Edinburgh", Latitude: 55.9533, Longitude: -3.1883},
		{Country: "GB", Region: "WLS", City: "Cardiff", Latitude: 51.4816, Longitude: -3.1791},
		{Country: "GB", Region: "ENG", City: "Bristol", Latitude: 51.4545, Longitude: -2.5879},
	},
}

// currencies are assigned to tenants in turn.
var currencies = [...]string{"USD", "EUR", "GBP"}

// deviceKind pairs a device type with user agents of that type.
type deviceKind struct {
	name       string
	userAgents []string
}

var deviceKinds = [...]deviceKind{
	{"desktop", []string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
	}},
	{"mobile", []string{
		"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
		"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
	}},
	{"tablet", []string{
		"Mozilla/5.0 (iPad; CPU OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
	}},
}

// Campaign vocabulary.
var (
	campaignThemes    = []string{"spring-sale", "new-arrivals", "loyalty-boost", "brand-awareness", "retargeting", "holiday-promo", "free-shipping", "back-in-stock"}
	audiences         = []string{"lookalike-1pct", "cart-abandoners", "loyal-customers", "new-visitors-18-34", "high-value-prospects", "lapsed-buyers"}
	flightDurations   = []string{"P14D", "P30D", "P45D", "P60D", "P90D"}
	terminationCauses = []string{"budget_exhausted", "flight_ended", "underperforming", "manual_stop"}
	adSets            = []string{"ad-set-a", "ad-set-b", "ad-set-c"}
)

// Personalization vocabulary.
var (
	behaviorPatterns = []string{"cart_abandonment", "repeat_visit", "price_sensitivity", "category_affinity", "high_intent_browsing", "churn_risk"}
	pages            = []string{"/", "/category/shoes", "/category/outerwear", "/product/sku-1042", "/product/sku-2210", "/cart", "/checkout"}
)

// segments pairs each segment with the behaviour pattern that moves customers in and out.
var segments = []struct{ id, pattern string }{
	{"high-value", "high_intent_browsing"},
	{"cart-abandoners", "cart_abandonment"},
	{"newsletter-engaged", "repeat_visit"},
	{"churn-risk", "churn_risk"},
	{"bargain-hunters", "price_sensitivity"},
	{"category-loyalists", "category_affinity"},
}

// placement is a page slot whose variants are tested against each other; variant ids are
// the slot name plus a letter, the same in every run.
type placement struct {
	slot, contentType string
	variants          []string
}

var placements = []placement{
	{"hero-banner", "banner", []string{"hero-banner-a", "hero-banner-b", "hero-banner-c", "hero-banner-d"}},
	{"email-subject", "subject_line", []string{"email-subject-a", "email-subject-b", "email-subject-c"}},
	{"product-recs", "recommendation", []string{"product-recs-a", "product-recs-b", "product-recs-c", "product-recs-d"}},
	{"cta-button", "call_to_action", []string{"cta-button-a", "cta-button-b"}},
}
