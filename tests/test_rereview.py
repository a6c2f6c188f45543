"""Review after a return: the page shows what changed since the return
(the history's character diff, beside each field), the return's comments
beside their fields and whether each field was changed since; after
approval no comment links. Looking at a report never ends the filler's
withdraw: only the explicit 开始审核 (a POST) does."""
import pytest

from pbforms.models import Report, User

from .fillpage import one, parse
from .test_township import put_in_state, text_of


def admin():
    return User.by_username("admin")


def filler_of(report):
    return User.get(User.unit == report.unit)


def returned_and_resubmitted(comments, change):
    """青泥村's report returned with `comments` ({key: text}), then changed by `change` and handed in again."""
    report = put_in_state("青泥村", "submitted")
    report.send_back(admin(), "请按意见修改。", comments, detail="请按意见修改。")
    report = Report.get_by_id(report.id)
    data = {**report.data, **change(report.data)}
    report.save_data(data, filler_of(report), report.version)
    report.change_status("submitted", filler_of(report), "submit")
    return report


def rewrite_intro(data):
    return {"intro": data["intro"].replace("。", "，成效明显。", 1)}


def review(client, report):
    return parse(client.get(f"/township/reports/{report.id}").text)


def test_re_review_shows_the_change_inline_and_the_earlier_comment_addressed(client, auth):
    report = returned_and_resubmitted({"intro": "开头太简略", "members_total": "请核对"},
                                      lambda data: {**rewrite_intro(data), "members_recruited": 9})
    auth.admin()
    page = review(client, report)

    banner = text_of(one(page, "//div[@id='since-return']"))
    assert "退回后重新提交：修改了 2 项（开头、发展党员）" in banner
    assert "对 2 项提的意见，1 项已修改，1 项未修改。" in banner
    assert "上次退回的总体意见：请按意见修改。" in banner

    intro = one(page, "//div[@id='review-intro']")
    assert text_of(one(intro, ".//p[contains(@class, 'earlier')]")) == "上次退回意见：开头太简略 已修改"
    assert [text_of(i) for i in intro.xpath(".//div[@class='since-return']//ins")] == ["，成效明显"]
    recruited = one(page, "//div[@id='review-members_recruited']//div[@class='since-return']")
    assert text_of(recruited) == "退回后的修改：2名 → 9名"
    total = one(page, "//div[@id='review-members_total']")
    assert text_of(one(total, ".//p[contains(@class, 'earlier')]")) == "上次退回意见：请核对 未修改"
    assert not total.xpath(".//div[@class='since-return']")


def test_re_review_of_an_unchanged_report_says_so(client, auth):
    report = returned_and_resubmitted({"intro": "开头太简略"}, lambda data: {})
    auth.admin()
    banner = text_of(one(review(client, report), "//div[@id='since-return']"))
    assert "内容与退回时相同，没有修改。" in banner and "1 项未修改" in banner


@pytest.mark.parametrize("progress", ["submitted", "approved"])
def test_a_first_review_and_an_approved_report_show_no_changes_since_a_return(client, auth, progress):
    report = put_in_state("青泥村", progress)
    auth.admin()
    assert not review(client, report).xpath("//*[@id='since-return' or @class='since-return']")


@pytest.mark.parametrize("progress, links", [("submitted", True), ("approved", False)])
def test_comment_links_only_while_a_report_awaits_review(client, auth, progress, links):
    report = put_in_state("青泥村", progress)
    auth.admin()
    page = review(client, report)
    assert bool(page.xpath("//details[@class='comment']")) is links
    assert bool([s for s in page.xpath("//summary") if text_of(s) == "对此项提意见"]) is links
    if not links:  # reopening stays possible, with its overall reason
        assert one(page, "//textarea[@name='comment']") is not None


def test_looking_at_a_submitted_report_does_not_end_the_withdraw_only_starting_the_review_does(client, auth):
    report = put_in_state("青泥村", "submitted")
    auth.admin()
    for _ in range(2):
        form = one(review(client, report), "//form[@id='start-review']")
    assert Report.get_by_id(report.id).opened_at is None
    answer = client.post(form.get("action"), data=dict(form.form_values()), follow_redirects=True)
    assert "已开始审核，青泥村不能再撤回此报告。" in answer.text
    assert Report.get_by_id(report.id).opened_at is not None
    assert not parse(answer.text).xpath("//form[@id='start-review']")


def test_starting_the_review_of_a_report_not_handed_in_is_refused_with_a_message(client, auth):
    report = put_in_state("青泥村", "draft")
    auth.admin()
    answer = client.post(f"/township/reports/{report.id}/open", data={"csrf_token": auth.csrf_token()},
                         follow_redirects=True)
    assert "只有已提交的报告才能开始审核" in text_of(one(parse(answer.text), "//p[contains(@class, 'flash error')]"))
    assert Report.get_by_id(report.id).opened_at is None
