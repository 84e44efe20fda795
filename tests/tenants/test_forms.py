from portal.tenants.forms import parse_departements, siret_is_valid


class TestSiret:
    def test_valid_and_invalid_keys(self) -> None:
        assert siret_is_valid("73282932000074")
        assert not siret_is_valid("73282932000075")
        assert not siret_is_valid("7328293200007")
        assert not siret_is_valid("7328293200007A")

    def test_la_poste_rule(self) -> None:
        assert siret_is_valid("35600000000048")  # head office: ordinary key
        assert siret_is_valid("35600000049837")  # an establishment: digit sum 45
        assert not siret_is_valid("35600000049838")


class TestDepartements:
    def test_codes_including_corsica_and_overseas(self) -> None:
        assert parse_departements("69, 2a; 974 69") == (["69", "2A", "974"], None)

    def test_unknown_codes_are_named(self) -> None:
        codes, error = parse_departements("69, 20, 99")
        assert codes == [] and error == "Département(s) inconnu(s) : 20, 99."
