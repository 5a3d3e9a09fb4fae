"""The importer against the contract's "CSV input" promises: bytes in, records and rejects out."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadshare.errors import InputError
from leadshare.importer import (
    MAX_FIELD_CHARS,
    attr_name,
    header_key,
    parse_map_options,
    read_leads,
)
from leadshare.errors import LeadshareError
from leadshare.importer import rejects_csv_text, write_rejects
from leadshare.importer.lines import detect_delimiter
from leadshare.outputs import csv_cell, output_file

FIXTURES = Path(__file__).parent / "fixtures" / "csv"

ALI = "012-345 6789"  # valid Malaysian mobile numbers
SITI = "013-987 6543"
ABU = "017-111 2222"


def read(text: str, **kw):
    return read_leads(text.encode("utf-8"), name="leads.csv", **kw)


def names(parsed) -> list[str]:
    return [r.name for r in parsed.records]


def rows_of_rejects_file(text: str, delimiter: str = ",") -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))


def save_rejects(path, parsed) -> None:
    """As `import` keeps them: through the one writer of user files, UTF-8 with a BOM."""
    output_file(path, path.parent / "leadshare.db", "--rejects").write(
        lambda fh: write_rejects(fh, parsed), encoding="utf-8-sig")


# --- encodings ---------------------------------------------------------------------------------


def test_utf8_with_bom_reads_the_first_header():
    parsed = read_leads(b"\xef\xbb\xbfName,Phone\r\nAli," + ALI.encode() + b"\r\n", name="bom.csv")
    assert parsed.columns == ["Name", "Phone"]
    assert parsed.mapping["name"] == "Name"
    assert parsed.records[0].phone == "+60123456789"
    assert parsed.warnings == []


def test_utf8_without_bom_keeps_non_ascii_names():
    parsed = read("name,phone\nJosé Tan 陈,{}\n".format(ALI))
    assert names(parsed) == ["José Tan 陈"]
    assert parsed.encoding == "utf-8"


def test_cp1252_fallback_reads_jose():
    parsed = read_leads(f"name,phone\nJosé,{ALI}\n".encode("cp1252"), name="excel.csv")
    assert names(parsed) == ["José"]
    assert parsed.encoding == "cp1252"
    assert any("cp1252" in w for w in parsed.warnings)


def test_utf16_with_bom_as_facebook_lead_ads_export_it():
    parsed = read_leads((FIXTURES / "facebook_leads.csv").read_bytes(), name="fb.csv")
    assert parsed.delimiter == "\t"
    assert names(parsed) == ["Nur Aisyah", "José Ramos"]
    assert [r.external_id for r in parsed.records] == ["l:1001", "l:1002"]  # bare `id`
    assert [r.region for r in parsed.records] == ["Selangor", "Kuala Lumpur"]
    assert parsed.records[0].attrs["form_name"] == "KL form"


def test_utf16_without_bom_and_other_encodings_are_detected():
    text = f"姓名,电话,备注\n陈大文,{ALI},想要三房公寓，预算五十万\n"
    for data in (text.encode("utf-16-le"), text.encode("utf-16-be"), text.encode("gb18030")):
        parsed = read_leads(data, name="cn.csv")
        assert names(parsed) == ["陈大文"], parsed.encoding
        assert parsed.records[0].attrs == {"备注": "想要三房公寓，预算五十万"}
        assert any("decoded as" in w for w in parsed.warnings)


def test_excel_semicolon_cp1252_with_malay_headers():
    parsed = read_leads((FIXTURES / "excel_semicolon_cp1252.csv").read_bytes(), name="x.csv")
    assert parsed.delimiter == ";"
    assert parsed.mapping == {"name": "Nama", "phone": "No. Tel", "email": "Emel", "region": "Negeri"}
    assert names(parsed) == ["José Tan", "Café Owner"]
    assert parsed.records[0].attrs == {"catatan": "Mahu pakej 3 bilik; bajet RM500k"}


# --- delimiters and newlines -------------------------------------------------------------------


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_delimiter_is_detected(delimiter):
    d = delimiter
    text = f"Name{d}Phone{d}Email{d}Notes\nAli{d}{ALI}{d}ali@example.com{d}wants, a; call\n"
    if d != "\t":
        text = text.replace("wants, a; call", '"wants, a; call"')
    parsed = read(text)
    assert parsed.delimiter == d
    assert parsed.records[0].attrs == {"notes": "wants, a; call"}


def test_delimiter_counted_outside_quotes_and_tie_is_comma():
    parsed = read(f'"Name; Nick";"Phone, main";Email\nAli;"{ALI}";\n')  # the commas are quoted
    assert parsed.delimiter == ";" and parsed.columns == ["Name; Nick", "Phone, main", "Email"]
    assert detect_delimiter("a;b,c\n1,2,3;4;5\n") == ","  # tie on the header line
    assert detect_delimiter("\n\nphone\n1;2;3\n") == ","  # one column: only the header counts
    assert read(f"phone\n{ALI}\n").delimiter == ","


@pytest.mark.parametrize(
    "header,expected",
    [
        ('"Name; Nick","Phone"\n', ","),  # quoted semicolon does not count
        ('Size 5";Phone;Email,Other\n', ";"),  # a quote inside a field opens nothing
        ('"Name ""A;B""",Phone\n', ","),  # doubled quotes stay inside
        ('"Notes\nmore;x",Phone,Email\n', ","),  # a header cell over two lines
        ("\n\nName\tPhone\n1,2,3,4\n", "\t"),  # blank lines above the header
    ],
)
def test_delimiter_detection_follows_csv_quoting(header, expected):
    assert detect_delimiter(header) == expected


def test_mixed_newlines_and_multiline_fields_keep_line_numbers():
    text = (
        "name,phone,notes\r\n"  # line 1
        f"Ali,{ALI},one\n"  # line 2
        f'Siti,{SITI},"two\r\nlines"\r'  # lines 3-4
        f'Abu,{ABU},"three\rlines\nhere"\n'  # lines 5-7
        f"Mei,019-222 3333,last"  # line 8, no newline at the end
    )
    parsed = read(text)
    assert [(r.row, r.line, r.name) for r in parsed.records] == [
        (1, 2, "Ali"),
        (2, 3, "Siti"),
        (3, 5, "Abu"),
        (4, 8, "Mei"),
    ]
    assert parsed.records[1].attrs["notes"] == "two\r\nlines"


def test_blank_lines_are_skipped_and_counted():
    parsed = read(f"\nname,phone\n\nAli,{ALI}\n\n\n")
    assert names(parsed) == ["Ali"]
    assert parsed.records[0].line == 4
    assert parsed.blank_lines == 3
    assert "skipped 3 blank lines" in parsed.warnings
    assert parsed.rejects == []


def test_a_row_whose_cells_are_all_empty_is_skipped_with_a_warning_like_a_blank_line():
    parsed = read(f"name,phone,email\nAli,{ALI},\n,,\n , ,\t\n,\n,,,,\n")
    assert names(parsed) == ["Ali"]
    assert parsed.rejects == []
    assert parsed.blank_lines == 4 and parsed.rows == 5
    assert "skipped 4 blank lines" in parsed.warnings


# --- headers ----------------------------------------------------------------------------------


def test_header_keys_ignore_case_spaces_underscores_dashes_camelcase_and_sf_suffix():
    assert header_key("LeadSource") == header_key("lead source") == header_key("LEAD_SOURCE") == "leadsource"
    assert header_key("External_id__c") == header_key("external-id") == "externalid"
    assert attr_name("Budget (RM)") == "budget_rm"
    assert attr_name("LeadSource") == "lead_source"
    assert attr_name("Preferred_Unit__c") == "preferred_unit"
    assert attr_name("URLSource") == "url_source"


def test_salesforce_export_headers_are_matched():
    parsed = read_leads((FIXTURES / "salesforce_export.csv").read_bytes(), name="sf.csv")
    assert parsed.mapping == {
        "first_name": "FirstName",
        "last_name": "LastName",
        "phone": "MobilePhone",
        "email": "Email",
        "source": "LeadSource",
        "external_id": "External_id__c",
        "owner": "Owner",
        "status": "Status",
    }
    ali = parsed.records[0]
    assert ali.name == "Ali bin Abu"  # first + last joined
    assert ali.external_id == "EXT-1"  # the explicit column wins over `Id` ...
    assert ali.attrs == {"id": "00Q5g000001", "budget": "5000", "status": "Open", "owner": "Mei Ling"}  # ... kept here
    assert ali.source == "Web"
    assert [r.row for r in parsed.rejects] == [2]


@pytest.mark.parametrize(
    "header,field",
    [
        ("Full Name", "name"), ("Lead Name", "name"), ("contact_name", "name"), ("NAME", "name"),
        ("Mobile", "phone"), ("Mobile Phone", "phone"), ("mobile no", "phone"), ("Phone Number", "phone"),
        ("Contact Number", "phone"), ("Tel", "phone"), ("Telephone", "phone"), ("WhatsApp", "phone"),
        ("whatsapp_number", "phone"), ("Phone No.", "phone"), ("Contact No", "phone"), ("mobileNumber", "phone"),
        ("E-mail", "email"), ("Email Address", "email"), ("EmailId", "email"), ("mail", "email"),
        ("Lead Source", "source"), ("LeadSource", "source"), ("Source", "source"),
        ("Region", "region"), ("State", "region"), ("Territory", "region"), ("Area", "region"),
        ("External ID", "external_id"), ("Lead ID", "external_id"), ("External_id__c", "external_id"),
    ],
)
def test_header_synonyms(header, field):
    other = "email" if field == "phone" else "phone"
    value = {"phone": ALI, "email": "a@example.com"}.get(field, "x")
    parsed = read(f"{header},{other}\n{value},{ALI if other == 'phone' else 'a@example.com'}\n")
    assert parsed.mapping[field] == header


def test_first_and_last_name_joined_only_without_a_name_column():
    parsed = read(f"Given Name,Surname,Phone\n  Siti , Aminah  binti Ali ,{SITI}\n")
    assert parsed.mapping["first_name"] == "Given Name" and parsed.mapping["last_name"] == "Surname"
    assert names(parsed) == ["Siti Aminah binti Ali"]

    parsed = read(f"First Name,Last Name,Name,Phone\nSiti,Aminah,Cik Siti,{SITI}\n")
    assert names(parsed) == ["Cik Siti"]
    assert parsed.records[0].attrs == {"first_name": "Siti", "last_name": "Aminah"}
    assert "first_name" not in parsed.mapping


def test_bare_id_is_the_external_id_only_without_an_explicit_one():
    assert read(f"id,phone\n77,{ALI}\n").records[0].external_id == "77"
    rec = read(f"id,Lead ID,phone\n77,L-1,{ALI}\n").records[0]
    assert rec.external_id == "L-1"
    assert rec.attrs == {"id": "77"}


def test_unknown_columns_are_attributes_with_snake_case_names_and_blanks_left_out():
    parsed = read(f"Name,Phone,Budget (RM),Product,PreferredUnit,,Notes\nAli,{ALI},500000,Condo,3BR,x,\n")
    assert parsed.records[0].attrs == {
        "budget_rm": "500000",
        "product": "Condo",
        "preferred_unit": "3BR",
        "column_6": "x",
    }


def test_owner_and_status_columns_are_attributes_named_owner_and_status():
    rec = read(f"Name,Phone,Lead Owner,Lead Status\nAli,{ALI},mei,contacted\n").records[0]
    assert rec.attrs == {"owner": "mei", "status": "contacted"}


def test_duplicate_header_first_wins_later_kept_with_suffix_and_warned():
    parsed = read(f"Name,Phone,Phone\nAli,{ALI},{SITI}\n")
    rec = parsed.records[0]
    assert rec.phone == "+60123456789"
    assert rec.attrs == {"phone_2": SITI}
    assert any("'Phone' appears 2 times" in w and "phone_2" in w for w in parsed.warnings)


def test_a_second_phone_column_is_used_when_the_first_is_empty_or_unusable():
    parsed = read(f"Name,Phone,Mobile\nAli,,{ALI}\nSiti,n/a,{SITI}\nAbu,{ABU},{ALI}\n")
    assert [r.phone for r in parsed.records] == ["+60123456789", "+60139876543", "+60171112222"]
    assert any("'n/a'" in w for w in parsed.records[1].warnings)


def test_source_from_the_column_else_the_default():
    parsed = read(f"name,phone,source\nAli,{ALI},Facebook\nSiti,{SITI},\n", default_source="walk-in")
    assert [r.source for r in parsed.records] == ["Facebook", "walk-in"]
    assert read(f"name,phone\nAli,{ALI}\n").records[0].source is None


def test_no_name_column_is_a_file_warning_not_an_error():
    parsed = read(f"phone\n{ALI}\n")
    assert names(parsed) == [""]
    assert any("no name column" in w for w in parsed.warnings)


# --- --map --------------------------------------------------------------------------------------


def test_map_overrides_header_matching():
    text = f"Name,Phone,HP Pejabat,Kanal\nAli,n/a,{ALI},Roadshow\n"
    parsed = read(text, mapping=parse_map_options(["phone=HP Pejabat", "source=kanal"]))
    assert parsed.mapping["phone"] == "HP Pejabat" and parsed.mapping["source"] == "Kanal"
    rec = parsed.records[0]
    assert (rec.phone, rec.source) == ("+60123456789", "Roadshow")
    assert rec.attrs == {"phone": "n/a"}  # the unmapped `Phone` is now just an attribute


def test_map_of_first_and_last_name_wins_over_a_name_column():
    text = f"Name,Given,Family,Phone\nCik Siti,Siti,Aminah,{SITI}\n"
    parsed = read(text, mapping={"first-name": "Given", "LastName": "Family"})
    assert names(parsed) == ["Siti Aminah"]
    assert parsed.records[0].attrs == {"name": "Cik Siti"}


def test_map_to_a_missing_column_lists_the_columns_found():
    with pytest.raises(InputError) as err:
        read(f"Name,Phone\nAli,{ALI}\n", mapping={"phone": "Tel No"})
    assert "'Tel No'" in err.value.message and "'Name', 'Phone'" in err.value.message


@pytest.mark.parametrize(
    "items,expected",
    [
        (["phone=Tel No", "email=E"], {"phone": "Tel No", "email": "E"}),
        (["external-id=Ref", "First Name=Given"], {"external_id": "Ref", "first_name": "Given"}),
        (["name= Nama Penuh "], {"name": "Nama Penuh"}),
        ([], {}),
    ],
)
def test_parse_map_options(items, expected):
    assert parse_map_options(items) == expected


@pytest.mark.parametrize("bad", ["phone", "phone=", "=Tel", "--=Tel"])
def test_bad_map_option_names_the_option_and_the_accepted_fields(bad):
    with pytest.raises(InputError) as err:
        parse_map_options([bad])
    assert repr(bad) in err.value.message
    assert "phone, email" in err.value.message and "external_id" in err.value.message


def test_map_names_any_attribute_not_only_a_contract_field():
    text = f"Name,Phone,Product Interest,Lang\nAli,{ALI},Condo,ms\n"
    parsed = read(text, mapping=parse_map_options(['product=Product Interest', 'Preferred Language=lang']))
    assert parsed.records[0].attrs == {"product": "Condo", "preferred_language": "ms"}
    assert parse_map_options(["Budget (RM)=B"]) == {"budget_rm": "B"}


def test_map_of_an_attribute_takes_its_column_from_the_synonyms():
    text = f"Name,Phone,Mobile\nAli,{ALI},{SITI}\n"
    parsed = read(text, mapping=parse_map_options(["office=Phone"]))
    assert parsed.records[0].phone == "+60139876543" and parsed.records[0].attrs == {"office": ALI}


def test_map_given_twice_for_one_field_is_refused():
    with pytest.raises(InputError, match="already mapped"):
        parse_map_options(["phone=A", "phone=B"])


# --- files refused whole ------------------------------------------------------------------------


def test_no_phone_and_no_email_column_is_refused_with_the_columns_listed():
    with pytest.raises(InputError) as err:
        read("Nama,Alamat,Budget\nAli,KL,5000\n")
    assert err.value.message == "leads.csv: no phone or email column; columns found: 'Nama', 'Alamat', 'Budget'"
    assert "--map phone=COLUMN" in err.value.hint and "--map email=COLUMN" in err.value.hint


@pytest.mark.parametrize("data", [b"", b"\r\n\n", b"\xef\xbb\xbf", b"   \n"])
def test_empty_file_is_refused(data):
    with pytest.raises(InputError) as err:
        read_leads(data, name="leads.csv")
    assert err.value.message == "leads.csv is empty"


def test_header_only_file_gives_no_records():
    parsed = read("name,phone,email\r\n")
    assert parsed.records == [] and parsed.rejects == [] and parsed.columns == ["name", "phone", "email"]


@pytest.mark.parametrize(
    "data,why",
    [
        (b"name,phone\n" + b"\x00\x01\x02\x03" * 500, "NUL bytes"),
        (b"PK\x03\x04\x14\x00\x06\x00" + b"\x00" * 64, "Excel .xlsx"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64, "Excel .xls"),
        (bytes(range(1, 32)) * 100, "control characters"),
    ],
)
def test_binary_file_is_refused(data, why):
    with pytest.raises(InputError) as err:
        read_leads(data, name="leads.xlsx")
    assert err.value.message.startswith("leads.xlsx: not a CSV text file (")
    assert why in err.value.message


def test_a_few_stray_nul_bytes_are_dropped_with_a_warning():
    parsed = read_leads(f"name,phone\nAli\x00,{ALI}\n".encode() + b"\x00\x00", name="x.csv")
    assert names(parsed) == ["Ali"]
    assert any("NUL" in w for w in parsed.warnings)


# --- rows rejected, with reasons ---------------------------------------------------------------


def test_row_without_usable_phone_or_email_is_rejected_with_the_reason():
    parsed = read(f"name,phone,email\nAli,{ALI},\nSiti,n/a,siti@@mail\nAbu,,\n")
    assert names(parsed) == ["Ali"]
    siti, abu = parsed.rejects
    assert (siti.row, siti.line, siti.values) == (2, 3, ["Siti", "n/a", "siti@@mail"])
    assert siti.reason.startswith("no usable phone or email (phone 'n/a' is not a phone number; email 'siti@@mail'")
    assert abu.reason == "no usable phone or email (phone is empty; email is empty)"


def test_a_bad_phone_beside_a_good_email_is_kept_as_written_with_a_warning():
    rec = read("name,phone,email\nAli,0123,Ali@Example.COM\n").records[0]
    assert (rec.phone, rec.phone_usable) == ("0123", False)
    assert (rec.email, rec.email_usable) == ("Ali@example.com", True)
    assert rec.warnings and "'0123'" in rec.warnings[0] and "kept as written" in rec.warnings[0]


def test_names_are_trimmed_with_runs_of_spaces_collapsed():
    assert names(read(f"name,phone\n   Siti   Aminah \t binti  Ali  ,{SITI}\n")) == ["Siti Aminah binti Ali"]


def test_row_with_more_cells_than_the_header_is_rejected_fewer_is_fine():
    parsed = read(f"name,phone,email\nAli,{ALI},a@example.com,oops\nSiti,{SITI}\nAbu,{ABU},,,\n")
    assert names(parsed) == ["Siti", "Abu"]  # short row padded; trailing empty cells hold nothing
    (rej,) = parsed.rejects
    assert rej.reason.startswith("4 cells, header has 3")
    assert rej.values == ["Ali", ALI, "a@example.com", "oops"]


def test_unterminated_quote_rejects_that_row_naming_its_line_and_keeps_the_rest():
    parsed = read(f'name,phone\nAli,{ALI}\n"Siti,{SITI}\nAbu,{ABU}\nMei,019-222 3333\n')
    assert names(parsed) == ["Ali", "Abu", "Mei"]
    assert [r.line for r in parsed.records] == [2, 4, 5]
    (rej,) = parsed.rejects
    assert rej.line == 3 and "line 3" in rej.reason and "never closes" in rej.reason
    assert rej.values == ['"Siti', SITI]


def test_quote_that_runs_into_a_later_quoted_field_is_rejected_not_merged():
    parsed = read(f'name,phone,notes\n"Siti,{SITI},x\nAbu,{ABU},"call, after 5"\nMei,019-222 3333,\n')
    assert names(parsed) == ["Abu", "Mei"]
    assert parsed.records[0].attrs == {"notes": "call, after 5"}
    assert parsed.rejects[0].line == 2 and "line 2" in parsed.rejects[0].reason


def test_many_stray_quotes_each_cost_only_their_own_line():
    block = '"x{i},012-345 6789,"a\nb"\nB{i},013-987 6543,"multi\nline"\n'
    parsed = read("name,phone,notes\n" + "".join(block.format(i=i) for i in range(300)))
    assert names(parsed) == [f"B{i}" for i in range(300)]
    assert [r.line for r in parsed.records][:3] == [4, 8, 12]
    assert parsed.records[-1].attrs == {"notes": "multi\nline"}
    assert [r.line for r in parsed.rejects][:4] == [2, 3, 6, 7]
    assert "text after a closing quote" in parsed.rejects[0].reason


def test_text_after_a_closing_quote_is_read_as_is_with_a_warning():
    rec = read(f'name,phone\n"Ali" bin Abu,{ALI}\n').records[0]
    assert rec.name == "Ali bin Abu"
    assert rec.warnings and "line 2" in rec.warnings[0]


def test_header_with_an_unterminated_quote_is_refused_naming_the_line():
    with pytest.raises(InputError, match=r"^leads.csv:1: the header line"):
        read('"name,phone\nAli,0123\n')


def test_ten_megabyte_field_rejects_its_row_without_crashing():
    big = "x" * (10 * 1024 * 1024)
    parsed = read(f'name,phone,notes\nAli,{ALI},"{big}"\nSiti,{SITI},short\n')
    assert names(parsed) == ["Siti"]
    (rej,) = parsed.rejects
    assert rej.line == 2 and "'notes'" in rej.reason and "too large" in rej.reason
    assert len(rej.values[2]) == len(big)
    assert MAX_FIELD_CHARS < len(big)


def test_rows_keep_file_order_and_are_not_deduplicated():
    parsed = read(f"name,phone\nA,{ALI}\nB,{ALI}\nC,{ALI}\n")
    assert names(parsed) == ["A", "B", "C"]


def test_content_hash_is_sha256_of_the_raw_bytes():
    import hashlib

    data = f"name,phone\nAli,{ALI}\n".encode()
    assert read_leads(data).content_hash == hashlib.sha256(data).hexdigest()


# --- rejects file -------------------------------------------------------------------------------


def test_rejects_file_has_reason_then_the_original_header_and_rows_as_read(tmp_path):
    text = f'Nama;No Tel;Emel\nAli;{ALI};\nSiti;n/a;"siti@@mail"\n"Abu\nbin Ali";;\n'
    parsed = read(text)
    out = tmp_path / "leads.rejected.csv"
    save_rejects(out, parsed)
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # spreadsheets read UTF-8 with a BOM as UTF-8
    rows = rows_of_rejects_file(raw.decode("utf-8-sig"), ";")
    assert rows[0] == ["reason", "raw", "Nama", "No Tel", "Emel"]
    assert [r[2:] for r in rows[1:]] == [["Siti", "n/a", "siti@@mail"], ["Abu\nbin Ali", "", ""]]
    assert [r[1] for r in rows[1:]] == ["Siti;n/a;siti@@mail", '"Abu\nbin Ali";;']
    assert rows[1][0].startswith("line 3: no usable phone or email")
    assert rows[2][0].startswith("line 4: ")
    assert raw.decode("utf-8-sig") == rejects_csv_text(parsed)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["leads.rejected.csv"]  # no temp file left


def test_rejects_file_keeps_a_long_row_and_its_reason_aligned(tmp_path):
    parsed = read(f"reason,phone\nx,{ALI},extra\n")
    rows = rows_of_rejects_file(rejects_csv_text(parsed))
    assert rows[0] == ["reject_reason", "raw", "reason", "phone"]
    assert rows[1][2:] == ["x", ALI, "extra"]


def test_write_rejects_replaces_an_existing_file_atomically(tmp_path):
    out = tmp_path / "r.csv"
    out.write_text("old")
    save_rejects(out, read("name,phone\nAli,n/a\n"))
    assert "n/a" in out.read_text(encoding="utf-8-sig")


def test_write_rejects_to_a_missing_folder_is_refused_before_writing(tmp_path):
    with pytest.raises(LeadshareError, match="does not exist"):
        save_rejects(tmp_path / "nope" / "r.csv", read("name,phone\nAli,n/a\n"))


def test_write_rejects_leaves_no_temp_file_when_it_fails(tmp_path, monkeypatch):
    import leadshare.outputs as outputs

    def boom(*_args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(outputs.os, "fsync", boom)
    with pytest.raises(LeadshareError, match="disk is full"):
        save_rejects(tmp_path / "r.csv", read("name,phone\nAli,n/a\n"))
    assert list(tmp_path.iterdir()) == []


# --- properties ---------------------------------------------------------------------------------

_cell_text = st.text(
    alphabet=st.sampled_from(list("abcXYZ é陈0123456789+-@.,;\t\"'\r\n ")), max_size=12
)
_cell = st.one_of(
    _cell_text,
    st.sampled_from(["", " ", ALI, SITI, "n/a", "ali@example.com", "siti@@mail", '"', "\r\n"]),
)
_row = st.one_of(st.just([]), st.lists(_cell, min_size=1, max_size=6))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(_row, max_size=15))
def test_every_data_row_is_a_record_a_reject_or_a_blank_line(rows):
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["name", "phone", "email", "notes"])
    writer.writerows(rows)
    parsed = read_leads(out.getvalue().encode("utf-8"), name="p.csv")
    assert len(parsed.records) + len(parsed.rejects) + parsed.blank_lines == len(rows)
    seen = sorted([(r.row, r.line) for r in parsed.records] + [(r.row, r.line) for r in parsed.rejects])
    assert [row for row, _ in seen] == sorted({row for row, _ in seen})  # each row once
    assert [line for _, line in seen] == sorted(line for _, line in seen)
    for rej in parsed.rejects:
        assert rej.values == rows[rej.row - 1]  # the cells as read are the cells written
    # The rejects file gives back every rejected row's cells.
    back = rows_of_rejects_file(rejects_csv_text(parsed))
    assert back[0] == ["reason", "raw", "name", "phone", "email", "notes"]
    assert [r[2:] for r in back[1:]] == [[csv_cell(v) for v in r.values] for r in parsed.rejects]


@settings(max_examples=200, deadline=None)
@given(body=st.text(alphabet=st.sampled_from(list('ab,;\t"\r\n 0123456789@.')), max_size=80))
def test_any_text_is_read_or_refused_cleanly_and_nothing_is_lost(body):
    data = ("name,phone,email\n" + body).encode()
    try:
        parsed = read_leads(data, name="f.csv")
    except InputError:
        return
    physical_lines = len(io.StringIO(data.decode(), newline="").readlines())
    starts = [r.line for r in parsed.records] + [r.line for r in parsed.rejects]
    assert all(2 <= line <= physical_lines for line in starts)
    assert len(set(starts)) == len(starts)
    total = len(parsed.records) + len(parsed.rejects) + parsed.blank_lines
    numbers = [r.row for r in parsed.records] + [r.row for r in parsed.rejects]
    assert len(set(numbers)) == len(numbers) and all(1 <= n <= total for n in numbers)


# --- layering -----------------------------------------------------------------------------------


def test_importer_is_pure_no_terminal_or_database_imports():
    code = (
        "import sys, leadshare.importer; "
        "bad = [m for m in ('typer', 'rich', 'sqlite3') if m in sys.modules]; "
        "print(','.join(bad))"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == ""


# ---- reading as a stream -------------------------------------------------------------------


def test_a_stream_gives_the_same_records_rejects_and_warnings_in_chunks():
    from leadshare.importer import open_leads

    rows = [f"Ali {i},012-{3000000 + i:07d}," for i in range(25)]
    rows[3] = "Bad,n/a,"  # rejected: nothing usable
    rows[7] = "Odd,n/a,odd@example.com"  # kept, with a warning
    rows[20] = ""  # blank
    data = ("name,phone,email\n" + "\n".join(rows) + "\n\n").encode()
    whole = read_leads(data, name="leads.csv")
    stream = open_leads(data, name="leads.csv")
    assert (stream.columns, stream.mapping, stream.encoding) == (whole.columns, whole.mapping, whole.encoding)
    assert stream.content_hash == whole.content_hash and stream.bytes_total == len(data)
    got, sizes, positions = [], [], []
    for part in stream.chunks(4):
        sizes.append(len(part))
        positions.append(stream.position())
        got.extend(part)
    assert got == whole.records and max(sizes) == 4
    assert [p[0] for p in positions] == sorted(p[0] for p in positions)
    assert stream.position() == (len(data), len(data))
    assert stream.rejects == whole.rejects and stream.blank_lines == whole.blank_lines == 2
    assert stream.warnings == whole.warnings and "skipped 2 blank lines" in stream.warnings
    assert stream.rows == whole.rows and stream.records_read == len(whole.records)
    assert stream.row_warning_count == whole.row_warning_count == 1
    assert stream.row_warnings == whole.row_warnings == [(8, 9, whole.records[6].warnings[0])]
    with pytest.raises(RuntimeError):
        next(iter(stream.chunks(4)))


def test_a_stream_keeps_the_first_row_warnings_and_counts_the_rest():
    from leadshare.importer import open_leads

    data = ("name,phone,email\n" + "".join(f"P{i},n/a,p{i}@example.com\n" for i in range(30))).encode()
    stream = open_leads(data, name="leads.csv", row_warnings=3)
    assert sum(len(part) for part in stream.chunks(7)) == 30
    assert stream.row_warning_count == 30
    assert [(row, line) for row, line, _ in stream.row_warnings] == [(1, 2), (2, 3), (3, 4)]


def test_a_file_refused_whole_is_refused_when_opened():
    from leadshare.importer import open_leads

    with pytest.raises(InputError, match="no phone or email column"):
        open_leads(b"Name,Address\nAli,Jalan 1\n", name="bad.csv")


def test_a_utf8_file_with_a_few_bad_bytes_is_read_as_utf8_and_the_rows_holding_them_are_named():
    text = f"name,phone,notes\n张伟,{ALI},ok\nJosé Müller,{SITI},caf\xe9\n陈大文,{ABU},ok\n".encode("utf-8")
    data = text.replace("caf\xe9".encode("utf-8"), b"caf\xe9")  # one cp1252 byte in a UTF-8 file
    parsed = read_leads(data, name="leads.csv")
    assert parsed.encoding == "utf-8"
    assert names(parsed) == ["张伟", "José Müller", "陈大文"]
    assert parsed.records[1].attrs["notes"] == "caf\ufffd"
    assert [(row, w.split(":")[0]) for row, _, w in parsed.row_warnings] == [(2, "holds bytes that are not UTF-8, read as \ufffd")]
    assert any("1 byte not UTF-8" in w for w in parsed.warnings)


def test_a_file_that_is_not_utf8_is_still_read_as_cp1252():
    parsed = read_leads(f"name,phone\nJosé Müller,{ALI}\nFrançois,{SITI}\n".encode("cp1252"), name="leads.csv")
    assert parsed.encoding == "cp1252" and names(parsed) == ["José Müller", "François"]


def test_list_cells_give_the_first_usable_value_and_keep_the_rest_as_attributes():
    text = (
        "name,emails,contact_numbers\n"
        f'Ali,"[{{""label"":""work"",""value"":""not-mail""}},{{""label"":""home"",""value"":""ali@example.com""}},'
        f'{{""label"":""other"",""value"":""a2@example.com""}}]","[{{""label"":""work"",""value"":""{ALI}""}}]"\n'
        f'Siti,siti@example.com; s2@example.com,"{SITI}, {ABU}"\n'
    )
    parsed = read(text)
    ali, siti = parsed.records
    assert (ali.email, ali.email_usable, ali.phone) == ("ali@example.com", True, "+60123456789")
    assert ali.attrs == {"other_emails": "not-mail; a2@example.com"} and ali.more_emails == ("a2@example.com",)
    assert (siti.email, siti.phone) == ("siti@example.com", "+60139876543")
    assert siti.more_emails == ("s2@example.com",) and siti.more_phones == ("+60171112222",)
    assert siti.attrs == {"other_emails": "s2@example.com", "other_phones": "+60171112222"}
    assert parsed.mapping == {"name": "name", "email": "emails", "phone": "contact_numbers"}


def test_a_zoho_secondary_email_is_the_fallback_when_the_email_is_not_usable():
    parsed = read(f"Full Name,Mobile,Email,Secondary Email\nAli,{ALI},ali@@mail,ali@example.com\n")
    assert parsed.records[0].email == "ali@example.com"
    assert parsed.records[0].attrs == {"secondary_email": "ali@example.com"}
