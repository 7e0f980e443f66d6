import CheckpointCore
import Foundation

/// The fleet page (`GET /fleet`): server-rendered HTML with its style inline and no script, image, font or other
/// resource from anywhere, Vietnamese first with English beneath. It reloads itself every 30 s.
public enum FleetPage {
    /// Vietnamese and English for each status and reason.
    static let statusText: [FleetView.Status: (vi: String, en: String)] = [
        .silent: ("Mất liên lạc", "Silent"), .failed: ("Hỏng", "Failed"), .attention: ("Cần chú ý", "Attention"), .ok: ("Bình thường", "OK"),
    ]

    static func reasonText(_ reason: String) -> String {
        let known: [String: String] = [
            "no heartbeat": "không có tín hiệu", "sensor lost": "mất cảm biến nhiệt", "uplink alert": "lỗi đường truyền",
            "dead letters": "bản ghi bị từ chối", "old backlog": "tồn đọng lâu", "old calibration": "hiệu chuẩn cũ",
            "low disk": "sắp hết dung lượng", "certificate expiring": "chứng chỉ sắp hết hạn",
        ]
        if let vi = known[reason] { return "\(vi) (\(reason))" }
        let stageWords: [String: String] = ["failed": "hỏng", "recovering": "đang khôi phục", "degraded": "suy giảm"]
        let parts = reason.split(separator: " ", maxSplits: 1).map(String.init)
        if parts.count == 2, let vi = stageWords[parts[1]] {
            let stage = ["camera": "camera", "detector": "nhận diện khuôn mặt", "thermal": "cảm biến nhiệt"][parts[0]] ?? parts[0]
            return "\(stage) \(vi) (\(reason))"
        }
        return reason
    }

    public static func html(_ fleet: FleetView) -> String {
        var rows = ""
        for k in fleet.kiosks {
            let st = statusText[k.status]!
            let reasons = k.reasons.map { escape(reasonText($0)) }.joined(separator: "<br>")
            rows += """
            <tr id="kiosk-\(escape(k.deviceId))" class="\(k.status.rawValue)" data-device="\(escape(k.deviceId))" data-status="\(k.status.rawValue)">
            <td><b>\(escape(k.deviceId))</b><br><small>\(escape(k.checkpointId))</small></td>
            <td class="st"><b>\(st.vi)</b><br><small>\(st.en)</small>\(reasons.isEmpty ? "" : "<div class=\"why\">\(reasons)</div>")</td>
            <td>\(age(k.secondsSinceHeartbeat))<br><small>\(time(k.lastHeartbeatAt))</small></td>
            <td>\(k.sensorConnected ? "có / yes" : "<b>mất / lost</b>")\(k.ambientC.map { "<br><small>\(String(format: "%.1f", $0)) °C</small>" } ?? "")</td>
            <td class="n">\(k.queueDepth)\(k.oldestPendingAgeSeconds.map { "<br><small>\(age($0))</small>" } ?? "")</td>
            <td class="n">\(k.deadLetters)</td>
            <td>\(escape(k.calibrationId))<br><small>\(k.calibrationAgeDays.map { "\(Int($0)) ngày / days" } ?? "—")</small></td>
            <td>\(k.lastSuccessfulUploadAt.map(time) ?? "—")</td>
            <td class="n">\(String(format: "%.1f", Double(k.freeDiskBytes) / 1e9)) GB</td>
            <td><small>\(escape(k.softwareVersion))</small></td>
            \(fleet.stillsEnabled ? stillCell(k) : "")
            </tr>

            """
        }
        if fleet.kiosks.isEmpty {
            rows = "<tr><td colspan=\"\(fleet.stillsEnabled ? 11 : 10)\">Chưa có kiosk nào gửi tín hiệu. / No kiosk has sent a heartbeat yet.</td></tr>\n"
        }
        let c = fleet.counts
        return """
        <!DOCTYPE html>
        <html lang="vi">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <meta http-equiv="refresh" content="30">
        <title>Tình trạng kiosk — Fleet status</title>
        <style>
        body { font-family: "Noto Sans", "DejaVu Sans", sans-serif; margin: 1rem; color: #111; background: #fafafa; }
        h1 { font-size: 1.5rem; margin: 0 0 .25rem; } h1 small { font-weight: normal; color: #555; }
        .summary { display: flex; gap: .75rem; margin: .75rem 0; flex-wrap: wrap; }
        .summary div { padding: .5rem 1rem; border-radius: .4rem; font-size: 1.1rem; background: #fff; border: 2px solid #ccc; }
        .summary b { font-size: 1.6rem; display: block; }
        .summary .silent { border-color: #b00020; } .summary .failed { border-color: #7a0010; }
        .summary .attention { border-color: #d98b00; } .summary .ok { border-color: #2e7d32; }
        table { border-collapse: collapse; width: 100%; background: #fff; }
        th, td { border-bottom: 1px solid #ddd; padding: .4rem .5rem; text-align: left; vertical-align: top; }
        th { background: #263238; color: #fff; font-weight: 600; } th small { font-weight: normal; color: #cfd8dc; }
        td.n { text-align: right; font-variant-numeric: tabular-nums; }
        small { color: #555; } .why { font-size: .85rem; margin-top: .2rem; }
        tr.silent { background: #fde7ea; } tr.silent td.st { border-left: 8px solid #b00020; color: #b00020; }
        tr.failed { background: #fbe3e3; } tr.failed td.st { border-left: 8px solid #7a0010; color: #7a0010; }
        tr.attention { background: #fff4e0; } tr.attention td.st { border-left: 8px solid #d98b00; }
        tr.ok td.st { border-left: 8px solid #2e7d32; color: #2e7d32; }
        td.still img { display: block; width: 200px; height: auto; border: 1px solid #999; margin-bottom: .2rem; }
        td.still .off { color: #7a0010; font-weight: 600; } td.still button { margin-top: .3rem; }
        </style>
        </head>
        <body>
        <h1>Tình trạng các kiosk <small>/ Fleet status</small></h1>
        <p><small>Cập nhật / Updated \(time(fleet.generatedAt)) UTC · mất liên lạc khi không có tín hiệu quá / silent after \(age(fleet.silentAfterSeconds))</small></p>
        <div class="summary">
        <div class="total"><b id="count-total">\(c.total)</b>Tổng số / Total</div>
        <div class="silent"><b id="count-silent">\(c.silent)</b>Mất liên lạc / Silent</div>
        <div class="failed"><b id="count-failed">\(c.failed)</b>Hỏng / Failed</div>
        <div class="attention"><b id="count-attention">\(c.attention)</b>Cần chú ý / Attention</div>
        <div class="ok"><b id="count-ok">\(c.ok)</b>Bình thường / OK</div>
        </div>
        <table id="fleet">
        <thead><tr>
        <th>Kiosk<br><small>điểm chốt / checkpoint</small></th>
        <th>Tình trạng<br><small>Status</small></th>
        <th>Tín hiệu cuối<br><small>Last heartbeat</small></th>
        <th>Cảm biến<br><small>Sensor</small></th>
        <th>Hàng đợi<br><small>Queue</small></th>
        <th>Bị từ chối<br><small>Dead letters</small></th>
        <th>Hiệu chuẩn<br><small>Calibration</small></th>
        <th>Gửi thành công cuối<br><small>Last upload</small></th>
        <th>Đĩa trống<br><small>Free disk</small></th>
        <th>Phiên bản<br><small>Version</small></th>
        \(fleet.stillsEnabled ? "<th>Ảnh giám sát<br><small>Monitoring still</small></th>" : "")
        </tr></thead>
        <tbody>
        \(rows)</tbody>
        </table>
        </body>
        </html>

        """
    }

    /// The monitoring still cell: the latest still (time, request, blurred or not), the latest request's state, and
    /// the button that asks for a new one (a plain form: the page has no script).
    static func stillCell(_ k: FleetView.Kiosk) -> String {
        let id = escape(k.deviceId)
        var cell = "<td class=\"still\" data-still-state=\"\(k.still?.request?.rawValue ?? "none")\">"
        if let still = k.still?.still {
            cell += "<a href=\"/v1/fleet/\(id)/still.jpg\"><img src=\"/v1/fleet/\(id)/still.jpg?r=\(escape(still.requestId))\" alt=\"Ảnh giám sát / monitoring still \(id)\"></a>"
            cell += "<small>\(time(still.receivedAt)) · "
            cell += still.facesBlurred ? "khuôn mặt đã làm mờ / faces blurred" : "<b>khuôn mặt KHÔNG làm mờ / faces NOT blurred</b>"
            cell += "</small><br>"
        }
        switch (k.still?.request, k.still?.refusal) {
        case (.pending?, _): cell += "<small>Đang chờ tín hiệu kế tiếp của kiosk / waiting for the kiosk's next heartbeat</small>"
        case (.delivered?, _): cell += "<small>Kiosk đã nhận yêu cầu, đang chờ ảnh / requested, waiting for the still</small>"
        case (.refused?, .disabled?): cell += "<span class=\"off\">Kiosk này tắt ảnh giám sát / monitoring stills are off on this kiosk</span>"
        case (.refused?, _): cell += "<span class=\"off\">Kiosk không có khung hình camera / no camera frame on this kiosk</span>"
        case (.received?, _), (nil, _): break
        }
        cell += "<form method=\"post\" action=\"/v1/fleet/\(id)/still-requests\"><button type=\"submit\">Chụp ảnh / Request still</button></form></td>"
        return cell
    }

    /// "42 giây / s", "5 phút / min", "3 giờ / h", "2 ngày / d".
    static func age(_ seconds: Double) -> String {
        let s = max(0, Int(seconds))
        if s < 120 { return "\(s) giây / s" }
        if s < 7200 { return "\(s / 60) phút / min" }
        if s < 172_800 { return "\(s / 3600) giờ / h" }
        return "\(s / 86400) ngày / d"
    }

    static func time(_ date: Date) -> String {
        var f = Date.ISO8601FormatStyle()
        f = f.dateSeparator(.dash).timeSeparator(.colon)
        return date.formatted(f).replacingOccurrences(of: "T", with: " ").replacingOccurrences(of: "Z", with: "")
    }

    static func escape(_ s: String) -> String {
        var out = ""
        for ch in s {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(ch)
            }
        }
        return out
    }
}
