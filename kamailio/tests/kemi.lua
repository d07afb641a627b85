-- KEMI test script: exercises KSR.wacall.* from Lua (app_lua) and reports the results in the reply's reason.
function ksr_request_route()
	local ruri_before = KSR.pv.get("$ru")
	local from_meta = KSR.wacall.is_meta()
	local rc_num = KSR.wacall.to_meta_number("+1 (415) 555-0100")
	local ruri_num = KSR.pv.get("$ru")
	local rc_bad = KSR.wacall.to_meta_number("not-a-number")
	KSR.pv.sets("$ru", ruri_before)
	local rc_from = KSR.wacall.from_meta()
	local number = KSR.pv.get("$avp(wacall_number)") or ""
	local tgrp = KSR.pv.get("$avp(wacall_tgrp)") or ""
	KSR.sl.sl_send_reply(499, "is_meta=" .. from_meta .. " num=" .. rc_num .. " " .. ruri_num ..
		" bad=" .. rc_bad .. " from_meta=" .. rc_from .. " " .. number .. " tgrp=" .. tgrp)
	KSR.x.exit()
end
